// Resource accounting: fixed-point exactness, fractional GPUs sharing ids,
// whole GPUs, infeasible and invalid demands.
#include "sched/resources.h"

#include <cmath>
#include <limits>

#include "tests/check.h"

using namespace sunray::sched;

namespace {
Demand demand(const ResourcePool& p, std::vector<std::pair<std::string, double>> items) {
  Demand d;
  for (auto& [n, v] : items) p.add_demand(d, n, v);
  return d;
}
}  // namespace

TEST(fixed_point_exact) {
  CHECK_EQ(to_fixed(0.1, "CPU"), Amount(1000));
  CHECK_EQ(to_fixed(1, "CPU"), kAmountScale);
  Amount sum = 0;
  for (int i = 0; i < 10; ++i) sum += to_fixed(0.1, "CPU");
  CHECK_EQ(sum, to_fixed(1.0, "CPU"));  // 0.1 * 10 == 1 exactly
  ResourcePool p({{"CPU", 1}});
  std::vector<Grant> gs(10);
  Demand d = demand(p, {{"CPU", 0.1}});
  for (auto& g : gs) CHECK(p.try_acquire(d, &g));
  CHECK_EQ(p.available(p.find("CPU")), Amount(0));
  Grant extra;
  CHECK(!p.try_acquire(d, &extra));
  for (auto& g : gs) p.release(g);
  CHECK_EQ(p.available(p.find("CPU")), kAmountScale);
  CHECK_EQ(to_fixed(0.00005, "x"), Amount(1));  // rounds to 0.0001
}

TEST(invalid_amounts) {
  CHECK_THROWS(to_fixed(-1, "CPU"));
  CHECK_THROWS(to_fixed(std::nan(""), "CPU"));
  CHECK_THROWS(to_fixed(std::numeric_limits<double>::infinity(), "CPU"));
  CHECK_THROWS(to_fixed(0.00001, "CPU"));  // below precision
  CHECK_THROWS(to_fixed(1e13, "CPU"));
  CHECK_THROWS(ResourcePool({{"GPU", 1.5}}));  // unit totals are whole
  CHECK_THROWS(ResourcePool({{"CPU", 1}, {"CPU", 2}}));
  ResourcePool p({{"CPU", 4}, {"GPU", 4}});
  Demand d;
  CHECK_THROWS(p.add_demand(d, "GPU", 1.5));  // above 1 must be whole
  CHECK_THROWS(p.add_demand(d, "CPU", -0.5));
  try {
    to_fixed(-2, "memory");
    CHECK(false);
  } catch (const ResourceError& e) {
    CHECK(std::string(e.what()).find("memory") != std::string::npos);
    CHECK(std::string(e.what()).find("negative") != std::string::npos);
  }
}

TEST(fractional_gpus_share_ids) {
  ResourcePool p({{"CPU", 8}, {"GPU", 2}});
  const int gpu = p.find("GPU");
  Grant a, b, c, d, e;
  CHECK(p.try_acquire(demand(p, {{"GPU", 0.5}}), &a));
  CHECK_EQ(a.pieces.size(), size_t(1));
  CHECK_EQ(a.pieces[0].instance, 0);
  CHECK(p.try_acquire(demand(p, {{"GPU", 0.5}}), &b));
  CHECK_EQ(b.pieces[0].instance, 0);  // shares device 0 until full
  CHECK(p.try_acquire(demand(p, {{"GPU", 0.25}}), &c));
  CHECK_EQ(c.pieces[0].instance, 1);
  // a whole GPU no longer fits (1.25 available in total, no whole device)
  CHECK(!p.fits(demand(p, {{"GPU", 1}})));
  CHECK(p.feasible(demand(p, {{"GPU", 1}})));
  CHECK(p.try_acquire(demand(p, {{"GPU", 0.75}}), &d));
  CHECK_EQ(d.pieces[0].instance, 1);
  CHECK_EQ(p.available(gpu), Amount(0));
  p.release(a);
  p.release(b);
  CHECK(p.try_acquire(demand(p, {{"GPU", 1}, {"CPU", 1}}), &e));
  CHECK_EQ(e.pieces.size(), size_t(1));
  CHECK_EQ(e.pieces[0].instance, 0);
  p.release(e);
  p.release(c);
  p.release(d);
  CHECK_EQ(p.available(gpu), 2 * kAmountScale);
  Grant two;
  CHECK(p.try_acquire(demand(p, {{"GPU", 2}}), &two));
  CHECK_EQ(two.pieces.size(), size_t(2));
  CHECK_EQ(two.pieces[0].instance, 0);
  CHECK_EQ(two.pieces[1].instance, 1);
  p.release(two);
  CHECK_THROWS(p.release(two));
}

TEST(infeasible_and_custom) {
  ResourcePool p({{"CPU", 2}, {"memory", 1e9}, {"accel", 3}});
  Demand unknown = demand(p, {{"TPU", 1}});
  CHECK(unknown.unknown);
  CHECK(!p.feasible(unknown));
  CHECK(!p.fits(unknown));
  Demand zero_unknown = demand(p, {{"TPU", 0}, {"CPU", 1}});  // zero amounts are ignored
  CHECK(p.feasible(zero_unknown));
  Demand too_much = demand(p, {{"CPU", 3}});
  CHECK(!p.feasible(too_much));
  Demand ok = demand(p, {{"CPU", 0.5}, {"memory", 5e8}, {"accel", 2.5}});
  CHECK(p.feasible(ok));
  Grant g;
  CHECK(p.try_acquire(ok, &g));
  CHECK(g.pieces.empty());  // custom resources are not unit resources by default
  CHECK_EQ(p.available(p.find("accel")), Amount(5000));
  CHECK_THROWS(demand(p, {{"CPU", 1}, {"CPU", 1}}));
  // custom unit resources
  ResourcePool q({{"GPU", 1}, {"neuron", 2}}, {"GPU", "neuron"});
  Grant h;
  CHECK(q.try_acquire(demand(q, {{"neuron", 1}}), &h));
  CHECK_EQ(h.pieces.size(), size_t(1));
  CHECK_EQ(h.pieces[0].instance, 0);
}

TEST_MAIN()
