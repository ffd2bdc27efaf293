#pragma once
// A small, strict JSON value with its own parser and writer, enough for safetensors headers and
// the training state stored in checkpoints. Strict on purpose: a checkpoint whose header is not
// exactly valid JSON (RFC 8259) is corrupt, and saying so beats guessing.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rf {

class Json {
 public:
  enum class Kind { Null, Bool, Number, String, Array, Object };
  using Array = std::vector<Json>;
  using Object = std::vector<std::pair<std::string, Json>>;  // keys unique, insertion order kept

  Json() = default;  // null
  Json(bool b) : kind_(Kind::Bool), bool_(b) {}
  Json(double d) : kind_(Kind::Number), number_(d) {}
  Json(int v) : Json(double(v)) {}
  Json(int64_t v) : Json(double(v)) {}
  Json(uint64_t v) : Json(double(v)) {}
  Json(std::string s) : kind_(Kind::String), string_(std::move(s)) {}
  Json(const char* s) : Json(std::string(s)) {}
  static Json array(Array items = {});
  static Json object(Object members = {});

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::Null; }
  bool is_object() const { return kind_ == Kind::Object; }

  // Typed access; each throws rf::Error naming the expected and actual kind.
  bool as_bool() const;
  double as_number() const;
  // A number that is an integer exactly representable as int64 (offsets, counts, epochs).
  int64_t as_int() const;
  const std::string& as_string() const;
  const Array& as_array() const;
  const Object& as_object() const;

  // Object members: has() / at() (throws naming the missing key) / set() (adds or replaces).
  bool has(std::string_view key) const;
  const Json& at(std::string_view key) const;
  Json& set(std::string key, Json value);
  // Arrays: appends.
  void push(Json value);

  // Compact text. Numbers are written with the fewest digits (15 to 17) that read back
  // bit-exactly, which exact resume depends on.
  std::string dump() const;
  // Throws rf::Error("<where>: <what> at byte N") on anything but exactly one JSON value
  // (surrounding whitespace allowed).
  static Json parse(std::string_view text, const std::string& where);

 private:
  void dump_to(std::string& out) const;
  Kind kind_ = Kind::Null;
  bool bool_ = false;
  double number_ = 0;
  std::string string_;
  std::shared_ptr<Array> array_;
  std::shared_ptr<Object> object_;
};

const char* json_kind_name(Json::Kind k);

}  // namespace rf
