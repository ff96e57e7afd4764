#include "util/json_schema.h"

#include <regex>
#include <set>

namespace effopt {

namespace {

using nlohmann::json;

bool has_type(const json& v, const std::string& t) {
  if (t == "object") return v.is_object();
  if (t == "array") return v.is_array();
  if (t == "string") return v.is_string();
  if (t == "boolean") return v.is_boolean();
  if (t == "null") return v.is_null();
  if (t == "integer") return v.is_number_integer() || (v.is_number_float() && v.get<double>() == static_cast<double>(static_cast<int64_t>(v.get<double>())));
  if (t == "number") return v.is_number();
  return false;
}

class Validator {
 public:
  explicit Validator(const json& root) : root_(root) {}
  std::vector<std::string> errors;

  void check(const json& v, const json& s, const std::string& at) {
    static const std::set<std::string> known = {"$schema", "$id", "title", "description", "$defs", "type", "const",
                                                "enum", "minimum", "maximum", "pattern", "required", "properties",
                                                "additionalProperties", "items", "$ref"};
    for (auto it = s.begin(); it != s.end(); ++it)
      if (!known.count(it.key())) errors.push_back("schema keyword '" + it.key() + "' is not supported (at " + at + ")");
    if (s.contains("$ref")) {
      std::string ref = s["$ref"];
      const std::string prefix = "#/$defs/";
      if (ref.rfind(prefix, 0) != 0 || !root_["$defs"].contains(ref.substr(prefix.size()))) {
        errors.push_back(at + ": unresolvable $ref " + ref);
        return;
      }
      check(v, root_["$defs"][ref.substr(prefix.size())], at);
    }
    if (s.contains("type")) {
      bool ok = false;
      std::string names;
      if (s["type"].is_array()) {
        for (auto& t : s["type"]) { ok = ok || has_type(v, t); names += std::string(names.empty() ? "" : "|") + t.get<std::string>(); }
      } else {
        ok = has_type(v, s["type"]);
        names = s["type"];
      }
      if (!ok) { errors.push_back(at + ": expected " + names + ", got " + v.dump().substr(0, 80)); return; }
    }
    if (s.contains("const") && v != s["const"]) errors.push_back(at + ": expected " + s["const"].dump());
    if (s.contains("enum")) {
      bool found = false;
      for (auto& e : s["enum"]) found = found || e == v;
      if (!found) errors.push_back(at + ": " + v.dump() + " is not one of " + s["enum"].dump());
    }
    if (v.is_number()) {
      if (s.contains("minimum") && v.get<double>() < s["minimum"].get<double>())
        errors.push_back(at + ": " + v.dump() + " < minimum " + s["minimum"].dump());
      if (s.contains("maximum") && v.get<double>() > s["maximum"].get<double>())
        errors.push_back(at + ": " + v.dump() + " > maximum " + s["maximum"].dump());
    }
    if (v.is_string() && s.contains("pattern") &&
        !std::regex_search(v.get<std::string>(), std::regex(s["pattern"].get<std::string>())))
      errors.push_back(at + ": '" + v.get<std::string>() + "' does not match " + s["pattern"].get<std::string>());
    if (v.is_object()) {
      if (s.contains("required"))
        for (auto& r : s["required"])
          if (!v.contains(r.get<std::string>())) errors.push_back(at + ": missing required '" + r.get<std::string>() + "'");
      for (auto it = v.begin(); it != v.end(); ++it) {
        std::string child = at + "/" + it.key();
        if (s.contains("properties") && s["properties"].contains(it.key())) {
          check(it.value(), s["properties"][it.key()], child);
        } else if (s.contains("additionalProperties")) {
          const json& ap = s["additionalProperties"];
          if (ap.is_boolean()) { if (!ap.get<bool>()) errors.push_back(at + ": unexpected property '" + it.key() + "'"); }
          else check(it.value(), ap, child);
        }
      }
    }
    if (v.is_array() && s.contains("items"))
      for (size_t i = 0; i < v.size(); ++i) check(v[i], s["items"], at + "/" + std::to_string(i));
  }

 private:
  const json& root_;
};

}  // namespace

std::vector<std::string> validate_json(const nlohmann::json& doc, const nlohmann::json& schema) {
  Validator v(schema);
  v.check(doc, schema, "");
  return std::move(v.errors);
}

}  // namespace effopt
