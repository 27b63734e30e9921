// MetadataFilter: a condition on document metadata (a JSON object), in the
// Chroma/Mongo style that search requests carry:
//
//   {"lang": "en"}                          equality (string, number, bool)
//   {"year": {"$gte": 2020, "$lt": 2025}}   $eq $ne $gt $gte $lt $lte
//   {"tags": {"$in": ["a", "b"]}}           $in $nin (also match a value inside an array)
//   {"$and": [{...}, {...}]}, {"$or": [...]} combinators; several keys = $and
//
// Keys name top-level metadata fields; the reserved keys "source", "doc_id" and
// "title" match the document's own fields (string values only), and "source"
// also accepts {"$prefix": "docs/"}.
//
// Values compare only with their own kind: numbers by value (1 == 1.0),
// strings bytewise, booleans by equality (never ordered, never equal to 0/1).
// $eq and the ordered operators need the field to be present and scalar;
// $ne and $nin are the negations of $eq and $in, so they also match documents
// without the field.
//
// Thread safety: immutable value type.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace gantry::store {

struct MetadataFilter {
  enum class Op { kAnd, kOr, kEq, kNe, kGt, kGte, kLt, kLte, kIn, kNin, kPrefix };
  Op op = Op::kAnd;
  std::string key;                       // comparisons only
  nlohmann::json value;                  // comparisons only: scalar, or array for $in/$nin
  std::vector<MetadataFilter> children;  // kAnd / kOr

  bool empty() const { return op == Op::kAnd && children.empty(); }

  // Parses the JSON form above. null or {} is the empty filter (matches all).
  // kInvalidArgument names the offending path, e.g. "filter.year: unknown operator $gtt".
  static Result<MetadataFilter> Parse(const nlohmann::json& j);

  // Evaluates against a document (used by fakes and tests; the SQL store
  // compiles the same semantics into its query).
  bool Matches(const nlohmann::json& metadata, const std::string& source, const std::string& doc_id,
               const std::string& title) const;
};

}  // namespace gantry::store
