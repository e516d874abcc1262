// Internal to probeseek_discover: the layer of a function (layer.h) from the evidence rank and
// explain already hold.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "probeseek/btf.h"
#include "probeseek/db.h"
#include "probeseek/layer.h"
#include "probeseek/ops_index.h"
#include "probeseek/ops_rows.h"

namespace probeseek::layers {

// Caller -> callees (or callee -> callers) seen in task context, over the sessions.
using Edges = std::map<std::string, std::set<std::string>, std::less<>>;
Status task_edges(Database& db, const std::vector<int64_t>& session_ids, Edges& callers,
                  Edges& callees);

// BTF function names by family_key(), built once on first use. members() is valid until its
// next call.
class FamilyIndex {
 public:
  const std::vector<std::string>& members(const Btf& btf, const std::string& key);

 private:
  bool built_ = false;
  std::unordered_map<std::string, std::vector<std::string>> by_key_;
  std::vector<std::string> scratch_;
};

struct Inputs {
  const StoredOps* stored = nullptr;  // record's scan of kernel memory: memberships and slots
  bool scanned = false;               // every session was scanned
  const Edges* callees = nullptr;
  // A function's ops fits from its BTF prototype, best first (empty without one).
  std::function<const std::vector<OpsFit>&(std::string_view)> fits_of;
  std::function<bool(std::string_view)> recorded;  // seen in the sessions
  const Btf* btf = nullptr;                        // for siblings from BTF, where memory is silent
  const OpsIndex* ops = nullptr;
  std::shared_ptr<FamilyIndex> families = std::make_shared<FamilyIndex>();
};

// The table slots record found holding `function`: its stored memberships when it was
// recorded, else the sibling slots that name it (tcp_v6_connect after an IPv4 recording).
std::vector<StoredMembership> held_by(const StoredOps& stored, std::string_view function);

// The layer of `function`, whose own fits are `fits` (best first).
Layer layer_of(std::string_view function, const std::vector<OpsFit>& fits, const Inputs& in);

// The function's name with address-family markers taken out (tcp_v4_connect and tcp_v6_connect
// -> "tcp_connect"; tcpv6_prot -> "tcp_prot"; ip4_datagram_connect -> "ip_datagram_connect").
std::string family_key(std::string_view name);

// The best candidate's hook set. `layer_of_caller` gives the layer of a caller (to name the
// dispatcher above an implementation); `takes_arg` whether a function takes --arg's type
// (always true without --arg), `arg` its text ("" without --arg).
struct HookSetInputs {
  const Edges* callers = nullptr;
  std::function<Layer(std::string_view)> layer_of;
  std::function<bool(std::string_view)> takes_arg;
  std::string arg;
};
HookSet hook_set(std::string_view function, const Layer& layer, const HookSetInputs& in);

}  // namespace probeseek::layers
