// Resource accounting for the local scheduler: fixed-point amounts (1/10000,
// Ray's precision), CPU / GPU / memory / custom resources, fractional demands,
// and instance ids for "unit" resources (GPU by default): acquiring 1 GPU
// yields a device id, 0.5 GPU shares an id with another 0.5 until full.
// No Node dependency. Not thread-safe: one owner (the node manager's loop).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sunray::sched {

using Amount = int64_t;
inline constexpr Amount kAmountScale = 10000;  // 1.0 == 10000
inline constexpr double kMaxAmount = 1e12;     // per resource, in whole units

struct ResourceError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// Converts a user amount; throws ResourceError naming the resource for NaN,
// infinities, negatives, values too large, and positive values below 0.0001.
Amount to_fixed(double value, std::string_view name);
inline double to_double(Amount a) { return static_cast<double>(a) / kAmountScale; }

struct Demand {
  std::vector<std::pair<int, Amount>> items;  // resource index, amount > 0
  bool unknown = false;                       // names a resource this pool does not have
  void clear() {
    items.clear();
    unknown = false;
  }
};

struct Grant {
  std::vector<std::pair<int, Amount>> items;
  // For unit resources: (resource index, instance id, amount taken from it).
  struct Piece {
    int resource;
    int instance;
    Amount amount;
  };
  std::vector<Piece> pieces;
  void clear() {
    items.clear();
    pieces.clear();
  }
};

class ResourcePool {
 public:
  // totals: name -> amount. unit_names: resources whose instances get ids
  // (their totals must be whole numbers).
  explicit ResourcePool(const std::vector<std::pair<std::string, double>>& totals,
                        const std::vector<std::string>& unit_names = {"GPU"});

  int find(std::string_view name) const;  // -1 when unknown
  size_t count() const { return names_.size(); }
  const std::string& name(int i) const { return names_[static_cast<size_t>(i)]; }
  bool is_unit(int i) const { return unit_[static_cast<size_t>(i)]; }
  // Available amount of each instance of a unit resource (empty otherwise).
  const std::vector<Amount>& instances(int i) const { return instances_[static_cast<size_t>(i)]; }
  Amount total(int i) const { return total_[static_cast<size_t>(i)]; }
  Amount available(int i) const { return avail_[static_cast<size_t>(i)]; }

  // Adds one validated item to a demand (amount 0 is ignored; an unknown
  // name with amount > 0 sets demand.unknown). Throws ResourceError.
  void add_demand(Demand& d, std::string_view name, double amount) const;

  bool feasible(const Demand& d) const;  // could it ever fit (against totals)
  bool fits(const Demand& d) const;      // does it fit now
  // On success fills *grant (cleared first) and takes the resources.
  bool try_acquire(const Demand& d, Grant* grant);
  void release(const Grant& g);  // throws ResourceError if it would exceed totals

 private:
  bool fits_unit(int r, Amount a) const;
  std::vector<std::string> names_;
  std::vector<Amount> total_, avail_;
  std::vector<bool> unit_;
  std::vector<std::vector<Amount>> instances_;  // per unit resource: available per instance
};

}  // namespace sunray::sched
