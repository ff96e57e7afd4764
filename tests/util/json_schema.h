// A small JSON Schema validator for the subset docs/report.schema.json uses:
// type (one or a list), const, enum, minimum, maximum, pattern, required,
// properties, additionalProperties (bool or schema), items, and local $ref
// ("#/$defs/name"). Anything else in a schema is an error, so the subset
// cannot silently grow past what is checked.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace effopt {

// Errors, each naming the JSON pointer of the offending value; empty = valid.
std::vector<std::string> validate_json(const nlohmann::json& doc, const nlohmann::json& schema);

}  // namespace effopt
