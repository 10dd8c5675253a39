// A small model behind an HTTP endpoint, with batching: POST /predict {"text": "..."} returns a
// sentiment score. The "model" is a bag-of-words logistic scorer whose weights come with the
// example (weights.json); it scores a whole batch at once, as a real model would on a GPU, so
// requests that arrive together are handed to it as one array by serve.batch.
//
//   node examples/serve-model/model.mjs           # serves on http://127.0.0.1:8000/, Ctrl-C stops
//   node examples/serve-model/model.mjs --demo    # sends 16 concurrent requests, prints, exits
import { readFileSync } from 'node:fs';
import * as sunray from 'sunray';
import * as serve from 'sunray/serve';

const Sentiment = serve.deployment(
  class Sentiment {
    constructor(weights) {
      this.weights = weights;
      this.batches = [];
    }

    // Shipped by source: `serve` (sunray/serve) is in scope in replicas.
    score = serve.batch(
      async (texts) => {
        this.batches.push(texts.length);
        return texts.map((t) => {
          let z = this.weights.bias;
          for (const w of t.toLowerCase().match(/[a-z']+/g) ?? []) z += this.weights.words[w] ?? 0;
          return Math.round((1 / (1 + Math.exp(-z))) * 1000) / 1000;
        });
      },
      { maxBatchSize: 8, batchWaitTimeoutMs: 20 },
    );

    async fetch(req) {
      const url = new URL(req.url);
      if (req.method === 'POST' && url.pathname === '/predict') {
        const { text } = await req.json();
        if (typeof text !== 'string')
          return Response.json({ error: 'send {"text": "..."}' }, { status: 400 });
        return Response.json({ text, positive: await this.score(text) });
      }
      if (url.pathname === '/batches') return Response.json(this.batches);
      return new Response('POST /predict {"text": "..."}\n', { status: 404 });
    }
  },
  { numReplicas: 1, maxOngoingRequests: 32 },
);

const weights = JSON.parse(readFileSync(new URL('./weights.json', import.meta.url), 'utf8'));
const demo = process.argv.includes('--demo');
await sunray.init({ numCpus: 2 });
await serve.run(Sentiment.bind(weights), { name: 'sentiment', port: demo ? 0 : 8000 });
const { port } = Object.values((await serve.status()).proxies)[0];
const base = `http://127.0.0.1:${port}`;

if (demo) {
  const texts = [
    'a great and lovely day',
    'terrible, awful service',
    'fine',
    'I love it',
    'bad bad bad',
    'not great',
  ];
  const answers = await Promise.all(
    Array.from({ length: 16 }, (_, i) =>
      fetch(`${base}/predict`, {
        method: 'POST',
        body: JSON.stringify({ text: texts[i % texts.length] }),
      }).then((r) => r.json()),
    ),
  );
  for (const a of answers.slice(0, texts.length)) console.log(`${a.positive.toFixed(3)}  ${a.text}`);
  console.log(`batch sizes the model saw: ${JSON.stringify(await (await fetch(`${base}/batches`)).json())}`);
  await serve.shutdown();
  await sunray.shutdown();
} else {
  console.log(`serving on ${base}: curl -d '{"text":"what a lovely day"}' ${base}/predict   (Ctrl-C stops)`);
  process.once('SIGINT', async () => {
    await serve.shutdown();
    await sunray.shutdown();
  });
}
