// The resource pool's arithmetic: validating amounts, fitting demands (unit
// resources instance by instance), acquiring and releasing. See resources.h.
#include "sched/resources.h"

#include <cmath>
#include <cstdio>

namespace sunray::sched {
namespace {
std::string fmt(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.17g", v);
  return b;
}
}  // namespace

Amount to_fixed(double value, std::string_view name) {
  const std::string n(name);
  if (std::isnan(value)) throw ResourceError("resource '" + n + "': amount is NaN");
  if (!std::isfinite(value)) throw ResourceError("resource '" + n + "': amount must be finite, got " + fmt(value));
  if (value < 0) throw ResourceError("resource '" + n + "': amount must not be negative, got " + fmt(value));
  if (value > kMaxAmount) throw ResourceError("resource '" + n + "': amount " + fmt(value) + " is too large");
  Amount a = std::llround(value * kAmountScale);
  if (value > 0 && a == 0)
    throw ResourceError("resource '" + n + "': amount " + fmt(value) + " is below the precision of 0.0001");
  return a;
}

ResourcePool::ResourcePool(const std::vector<std::pair<std::string, double>>& totals,
                           const std::vector<std::string>& unit_names) {
  for (const auto& [name, value] : totals) {
    if (name.empty()) throw ResourceError("resource name must not be empty");
    if (find(name) >= 0) throw ResourceError("resource '" + name + "' given twice");
    Amount a = to_fixed(value, name);
    bool unit = false;
    for (const auto& u : unit_names) unit = unit || u == name;
    names_.push_back(name);
    total_.push_back(a);
    avail_.push_back(a);
    unit_.push_back(unit);
    instances_.emplace_back();
    if (unit) {
      if (a % kAmountScale != 0)
        throw ResourceError("resource '" + name + "': total of a unit resource must be a whole number, got " +
                            fmt(value));
      instances_.back().assign(static_cast<size_t>(a / kAmountScale), kAmountScale);
    }
  }
}

int ResourcePool::find(std::string_view name) const {
  for (size_t i = 0; i < names_.size(); ++i)
    if (names_[i] == name) return static_cast<int>(i);
  return -1;
}

void ResourcePool::add_demand(Demand& d, std::string_view name, double amount) const {
  Amount a = to_fixed(amount, name);
  if (a == 0) return;
  int r = find(name);
  if (r < 0) {
    d.unknown = true;
    return;
  }
  if (unit_[static_cast<size_t>(r)] && a > kAmountScale && a % kAmountScale != 0)
    throw ResourceError("resource '" + std::string(name) + "': amounts above 1 must be whole numbers, got " +
                        fmt(amount));
  for (auto& item : d.items) {
    if (item.first == r) throw ResourceError("resource '" + std::string(name) + "' demanded twice");
  }
  d.items.emplace_back(r, a);
}

bool ResourcePool::feasible(const Demand& d) const {
  if (d.unknown) return false;
  for (auto [r, a] : d.items)
    if (a > total_[static_cast<size_t>(r)]) return false;
  return true;
}

bool ResourcePool::fits_unit(int r, Amount a) const {
  const auto& inst = instances_[static_cast<size_t>(r)];
  if (a >= kAmountScale) {
    Amount want = a / kAmountScale, whole = 0;
    for (Amount v : inst) whole += v == kAmountScale;
    return whole >= want;
  }
  for (Amount v : inst)
    if (v >= a) return true;
  return false;
}

bool ResourcePool::fits(const Demand& d) const {
  if (d.unknown) return false;
  for (auto [r, a] : d.items) {
    if (a > avail_[static_cast<size_t>(r)]) return false;
    if (unit_[static_cast<size_t>(r)] && !fits_unit(r, a)) return false;
  }
  return true;
}

bool ResourcePool::try_acquire(const Demand& d, Grant* g) {
  if (!fits(d)) return false;
  g->clear();
  for (auto [r, a] : d.items) {
    const size_t ri = static_cast<size_t>(r);
    avail_[ri] -= a;
    g->items.emplace_back(r, a);
    if (!unit_[ri]) continue;
    auto& inst = instances_[ri];
    if (a >= kAmountScale) {
      Amount want = a / kAmountScale;
      for (size_t i = 0; i < inst.size() && want > 0; ++i) {
        if (inst[i] != kAmountScale) continue;
        inst[i] = 0;
        g->pieces.push_back({r, static_cast<int>(i), kAmountScale});
        --want;
      }
    } else {
      // Best fit: the instance with the least room that still fits, so
      // fractions pack onto shared devices and whole devices stay free.
      size_t best = inst.size();
      for (size_t i = 0; i < inst.size(); ++i)
        if (inst[i] >= a && (best == inst.size() || inst[i] < inst[best])) best = i;
      inst[best] -= a;
      g->pieces.push_back({r, static_cast<int>(best), a});
    }
  }
  return true;
}

void ResourcePool::release(const Grant& g) {
  for (auto [r, a] : g.items) {
    if (r < 0 || static_cast<size_t>(r) >= names_.size() || a < 0 ||
        avail_[static_cast<size_t>(r)] + a > total_[static_cast<size_t>(r)])
      throw ResourceError(
          "release of resource '" +
          (r >= 0 && static_cast<size_t>(r) < names_.size() ? names_[static_cast<size_t>(r)] : std::string("?")) +
          "' exceeds its total: grant released twice?");
  }
  for (const auto& p : g.pieces) {
    const auto& inst = instances_[static_cast<size_t>(p.resource)];
    if (p.instance < 0 || static_cast<size_t>(p.instance) >= inst.size() ||
        inst[static_cast<size_t>(p.instance)] + p.amount > kAmountScale)
      throw ResourceError("release of resource '" + names_[static_cast<size_t>(p.resource)] + "' instance " +
                          std::to_string(p.instance) + " exceeds its capacity: grant released twice?");
  }
  for (auto [r, a] : g.items) avail_[static_cast<size_t>(r)] += a;
  for (const auto& p : g.pieces)
    instances_[static_cast<size_t>(p.resource)][static_cast<size_t>(p.instance)] += p.amount;
}

}  // namespace sunray::sched
