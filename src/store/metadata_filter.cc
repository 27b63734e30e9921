#include "store/metadata_filter.h"

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

namespace gantry::store {
namespace {

using json = nlohmann::json;
using Op = MetadataFilter::Op;

// Filters come from request bodies; the bound keeps recursion (here and in the
// SQL compiler) away from the stack limit.
constexpr int kMaxDepth = 32;

bool IsReserved(std::string_view key) {
  return key == "source" || key == "doc_id" || key == "title";
}

bool IsScalar(const json& v) { return v.is_string() || v.is_number() || v.is_boolean(); }

std::optional<Op> OperatorFor(std::string_view name) {
  if (name == "$eq") return Op::kEq;
  if (name == "$ne") return Op::kNe;
  if (name == "$gt") return Op::kGt;
  if (name == "$gte") return Op::kGte;
  if (name == "$lt") return Op::kLt;
  if (name == "$lte") return Op::kLte;
  if (name == "$in") return Op::kIn;
  if (name == "$nin") return Op::kNin;
  if (name == "$prefix") return Op::kPrefix;
  return std::nullopt;
}

MetadataFilter Leaf(Op op, const std::string& key, json value) {
  MetadataFilter f;
  f.op = op;
  f.key = key;
  f.value = std::move(value);
  return f;
}

MetadataFilter AllOf(std::vector<MetadataFilter> children) {
  if (children.size() == 1) return std::move(children.front());
  MetadataFilter f;
  f.op = Op::kAnd;
  f.children = std::move(children);
  return f;
}

// Checks one operand; reserved keys are string columns, so only strings fit.
Status CheckOperand(Op op, bool reserved, const json& v, const std::string& path) {
  switch (op) {
    case Op::kEq:
    case Op::kNe:
      if (reserved ? v.is_string() : IsScalar(v)) return OkStatus();
      return InvalidArgument(
          path + (reserved ? ": must be a string" : ": must be a string, number or boolean"));
    case Op::kGt:
    case Op::kGte:
    case Op::kLt:
    case Op::kLte:
      if (v.is_string() || (!reserved && v.is_number())) return OkStatus();
      return InvalidArgument(path +
                             (reserved ? ": must be a string" : ": must be a number or string"));
    case Op::kPrefix:
      if (v.is_string()) return OkStatus();
      return InvalidArgument(path + ": must be a string");
    case Op::kIn:
    case Op::kNin: {
      if (!v.is_array()) return InvalidArgument(path + ": must be an array");
      for (size_t i = 0; i < v.size(); ++i) {
        RETURN_IF_ERROR(
            CheckOperand(Op::kEq, reserved, v[i], path + "[" + std::to_string(i) + "]"));
      }
      return OkStatus();
    }
    case Op::kAnd:
    case Op::kOr:
      break;
  }
  return InternalError(path + ": not a comparison");
}

Result<MetadataFilter> ParseField(const std::string& key, const json& v, const std::string& path) {
  const bool reserved = IsReserved(key);
  if (!v.is_object()) {
    if (v.is_null() || v.is_array()) {
      return InvalidArgument(path + ": expected a value or an operator object");
    }
    RETURN_IF_ERROR(CheckOperand(Op::kEq, reserved, v, path));
    return Leaf(Op::kEq, key, v);
  }
  if (v.empty()) return InvalidArgument(path + ": empty operator object");
  std::vector<MetadataFilter> conditions;
  for (const auto& [name, arg] : v.items()) {
    const std::optional<Op> op = OperatorFor(name);
    if (!op) {
      if (!name.empty() && name[0] == '$') {
        return InvalidArgument(path + ": unknown operator " + name);
      }
      return InvalidArgument(path + ": expected an operator, got \"" + name +
                             "\" (nested fields are not supported)");
    }
    if (*op == Op::kPrefix && key != "source") {
      return InvalidArgument(path + ": $prefix applies only to source");
    }
    RETURN_IF_ERROR(CheckOperand(*op, reserved, arg, path + "." + name));
    conditions.push_back(Leaf(*op, key, arg));
  }
  return AllOf(std::move(conditions));
}

Result<MetadataFilter> ParseObject(const json& j, const std::string& path, int depth) {
  if (depth > kMaxDepth) return InvalidArgument(path + ": nested too deeply");
  if (!j.is_object()) return InvalidArgument(path + ": must be an object");
  std::vector<MetadataFilter> conditions;
  for (const auto& [key, v] : j.items()) {
    const std::string at = path + "." + key;
    if (key == "$and" || key == "$or") {
      if (!v.is_array() || v.empty()) return InvalidArgument(at + ": must be a non-empty array");
      MetadataFilter group;
      group.op = key == "$and" ? Op::kAnd : Op::kOr;
      for (size_t i = 0; i < v.size(); ++i) {
        ASSIGN_OR_RETURN(MetadataFilter child,
                         ParseObject(v[i], at + "[" + std::to_string(i) + "]", depth + 1));
        group.children.push_back(std::move(child));
      }
      conditions.push_back(std::move(group));
    } else if (!key.empty() && key[0] == '$') {
      return InvalidArgument(path + ": unknown operator " + key);
    } else if (key.empty()) {
      return InvalidArgument(path + ": empty field name");
    } else {
      ASSIGN_OR_RETURN(MetadataFilter field, ParseField(key, v, at));
      conditions.push_back(std::move(field));
    }
  }
  if (conditions.empty()) return MetadataFilter{};
  return AllOf(std::move(conditions));
}

// Numbers compare by value across integer and floating point; other kinds
// compare only with their own kind.
std::optional<int> Compare(const json& a, const json& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_number_integer() && b.is_number_integer() && !a.is_number_unsigned() &&
        !b.is_number_unsigned()) {
      const auto x = a.get<int64_t>(), y = b.get<int64_t>();
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    const auto x = a.get<double>(), y = b.get<double>();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) {
    const int c = a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (a.is_boolean() && b.is_boolean()) return a.get<bool>() == b.get<bool>() ? 0 : 1;
  return std::nullopt;
}

bool ScalarEquals(const json& a, const json& b) {
  const std::optional<int> c = Compare(a, b);
  return c && *c == 0;
}

bool InList(const json& v, const json& list) {
  auto listed = [&](const json& x) {
    for (const json& item : list) {
      if (ScalarEquals(x, item)) return true;
    }
    return false;
  };
  if (v.is_array()) {
    for (const json& e : v) {
      if (listed(e)) return true;
    }
    return false;
  }
  return listed(v);
}

// Ordered comparisons: booleans have no order.
bool Ordered(Op op, const json& v, const json& bound) {
  if (v.is_boolean() || bound.is_boolean()) return false;
  const std::optional<int> c = Compare(v, bound);
  if (!c) return false;
  switch (op) {
    case Op::kGt:
      return *c > 0;
    case Op::kGte:
      return *c >= 0;
    case Op::kLt:
      return *c < 0;
    case Op::kLte:
      return *c <= 0;
    default:
      return false;
  }
}

}  // namespace

Result<MetadataFilter> MetadataFilter::Parse(const nlohmann::json& j) {
  if (j.is_null()) return MetadataFilter{};
  return ParseObject(j, "filter", 0);
}

bool MetadataFilter::Matches(const nlohmann::json& metadata, const std::string& source,
                             const std::string& doc_id, const std::string& title) const {
  switch (op) {
    case Op::kAnd:
      for (const MetadataFilter& c : children) {
        if (!c.Matches(metadata, source, doc_id, title)) return false;
      }
      return true;
    case Op::kOr:
      for (const MetadataFilter& c : children) {
        if (c.Matches(metadata, source, doc_id, title)) return true;
      }
      return false;
    default:
      break;
  }

  json column;
  const json* v = nullptr;
  if (key == "source" || key == "doc_id" || key == "title") {
    column = key == "source" ? source : (key == "doc_id" ? doc_id : title);
    v = &column;
  } else if (metadata.is_object()) {
    auto it = metadata.find(key);
    if (it != metadata.end()) v = &*it;
  }

  switch (op) {
    case Op::kEq:
      return v != nullptr && ScalarEquals(*v, value);
    case Op::kNe:
      return v == nullptr || !ScalarEquals(*v, value);
    case Op::kGt:
    case Op::kGte:
    case Op::kLt:
    case Op::kLte:
      return v != nullptr && Ordered(op, *v, value);
    case Op::kIn:
      return v != nullptr && InList(*v, value);
    case Op::kNin:
      return v == nullptr || !InList(*v, value);
    case Op::kPrefix:
      return v != nullptr && v->is_string() && value.is_string() &&
             v->get_ref<const std::string&>().starts_with(value.get_ref<const std::string&>());
    case Op::kAnd:
    case Op::kOr:
      break;
  }
  return false;
}

}  // namespace gantry::store
