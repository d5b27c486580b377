#pragma once
// A strict reader for one flat JSON object (RFC 8259) — the AWS
// credential_process output: {"Version": 1, "AccessKeyId": "…", …}.
// Values are strings, numbers, true, false or null; a nested object or
// array, a duplicate key, trailing content or any syntax error is refused.
// No JSON library: ferry has none in its core, and this input holds
// secrets, so the values are kept where they can be wiped.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/expected.h"

namespace ferry::aws {

struct FlatJsonValue {
  enum class Kind { string, number, boolean, null } kind = Kind::null;
  std::string text;  // the decoded string, the number as written, "true"/"false"
};

class FlatJsonObject {
 public:
  ~FlatJsonObject();  // wipes every value
  FlatJsonObject() = default;
  FlatJsonObject(FlatJsonObject&&) = default;
  FlatJsonObject& operator=(FlatJsonObject&&) = delete;

  const FlatJsonValue* get(std::string_view key) const;
  const std::vector<std::pair<std::string, FlatJsonValue>>& members() const { return members_; }

  // Errors name the offset and the defect, never a value.
  static Expected<FlatJsonObject> parse(std::string_view text);

 private:
  std::vector<std::pair<std::string, FlatJsonValue>> members_;
};

}  // namespace ferry::aws
