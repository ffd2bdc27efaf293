#include "engine/json.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "engine/check.h"

namespace rf {

const char* json_kind_name(Json::Kind k) {
  switch (k) {
    case Json::Kind::Null: return "null";
    case Json::Kind::Bool: return "boolean";
    case Json::Kind::Number: return "number";
    case Json::Kind::String: return "string";
    case Json::Kind::Array: return "array";
    case Json::Kind::Object: return "object";
  }
  return "?";
}

Json Json::array(Array items) {
  Json j;
  j.kind_ = Kind::Array;
  j.array_ = std::make_shared<Array>(std::move(items));
  return j;
}

Json Json::object(Object members) {
  Json j;
  j.kind_ = Kind::Object;
  j.object_ = std::make_shared<Object>();
  for (auto& [k, v] : members) j.set(std::move(k), std::move(v));
  return j;
}

#define RF_JSON_EXPECT(kind)                                                             \
  RF_CHECK(kind_ == (kind), "JSON: expected " << json_kind_name(kind) << ", found " \
                                              << json_kind_name(kind_))

bool Json::as_bool() const {
  RF_JSON_EXPECT(Kind::Bool);
  return bool_;
}

double Json::as_number() const {
  RF_JSON_EXPECT(Kind::Number);
  return number_;
}

int64_t Json::as_int() const {
  RF_JSON_EXPECT(Kind::Number);
  RF_CHECK(std::isfinite(number_) && number_ == std::floor(number_) &&
               std::fabs(number_) <= 9007199254740992.0,
           "JSON: expected an integer, found " << number_);
  return int64_t(number_);
}

const std::string& Json::as_string() const {
  RF_JSON_EXPECT(Kind::String);
  return string_;
}

const Json::Array& Json::as_array() const {
  RF_JSON_EXPECT(Kind::Array);
  return *array_;
}

const Json::Object& Json::as_object() const {
  RF_JSON_EXPECT(Kind::Object);
  return *object_;
}

bool Json::has(std::string_view key) const {
  for (const auto& [k, v] : as_object())
    if (k == key) return true;
  return false;
}

const Json& Json::at(std::string_view key) const {
  for (const auto& [k, v] : as_object())
    if (k == key) return v;
  RF_CHECK(false, "JSON: missing key \"" << key << "\"");
  return *this;  // unreachable
}

Json& Json::set(std::string key, Json value) {
  RF_JSON_EXPECT(Kind::Object);
  // Copies share their members until one of them is changed.
  if (object_.use_count() > 1) object_ = std::make_shared<Object>(*object_);
  for (auto& [k, v] : *object_)
    if (k == key) return v = std::move(value);
  object_->emplace_back(std::move(key), std::move(value));
  return object_->back().second;
}

void Json::push(Json value) {
  RF_JSON_EXPECT(Kind::Array);
  if (array_.use_count() > 1) array_ = std::make_shared<Array>(*array_);
  array_->push_back(std::move(value));
}

namespace {

void dump_string(const std::string& s, std::string& out) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += char(c);
        }
    }
  }
  out += '"';
}

class Parser {
 public:
  Parser(std::string_view text, const std::string& where) : t_(text), where_(where) {}

  Json document() {
    skip_ws();
    Json v = value(0);
    skip_ws();
    if (i_ != t_.size()) fail("unexpected text after the JSON value");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    RF_CHECK(false, where_ << ": invalid JSON: " << what << " at byte " << i_);
    std::abort();
  }
  void skip_ws() {
    while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\t' || t_[i_] == '\n' || t_[i_] == '\r'))
      ++i_;
  }
  char peek() const { return i_ < t_.size() ? t_[i_] : '\0'; }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++i_;
  }
  void literal(std::string_view word) {
    if (t_.substr(i_, word.size()) != word) fail("unknown literal");
    i_ += word.size();
  }

  Json value(int depth) {
    if (depth > 64) fail("nesting deeper than 64");
    switch (peek()) {
      case '{': return object(depth);
      case '[': return array(depth);
      case '"': return Json(string());
      case 't': literal("true"); return Json(true);
      case 'f': literal("false"); return Json(false);
      case 'n': literal("null"); return Json();
      default:
        if (peek() == '-' || (peek() >= '0' && peek() <= '9')) return Json(number());
        if (i_ >= t_.size()) fail("unexpected end of text");
        fail("unexpected character");
    }
  }

  Json object(int depth) {
    expect('{');
    Json obj = Json::object();
    skip_ws();
    if (peek() == '}') {
      ++i_;
      return obj;
    }
    for (;;) {
      skip_ws();
      if (peek() != '"') fail("expected a string key");
      std::string key = string();
      if (obj.has(key)) fail("duplicate key \"" + key + "\"");
      skip_ws();
      expect(':');
      skip_ws();
      obj.set(std::move(key), value(depth + 1));
      skip_ws();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      expect('}');
      return obj;
    }
  }

  Json array(int depth) {
    expect('[');
    Json arr = Json::array();
    skip_ws();
    if (peek() == ']') {
      ++i_;
      return arr;
    }
    for (;;) {
      skip_ws();
      arr.push(value(depth + 1));
      skip_ws();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      expect(']');
      return arr;
    }
  }

  double number() {
    const size_t start = i_;
    if (peek() == '-') ++i_;
    if (peek() == '0') {
      ++i_;
    } else if (peek() >= '1' && peek() <= '9') {
      while (peek() >= '0' && peek() <= '9') ++i_;
    } else {
      fail("bad number");
    }
    if (peek() == '.') {
      ++i_;
      if (!(peek() >= '0' && peek() <= '9')) fail("bad number: no digit after '.'");
      while (peek() >= '0' && peek() <= '9') ++i_;
    }
    if (peek() == 'e' || peek() == 'E') {
      ++i_;
      if (peek() == '+' || peek() == '-') ++i_;
      if (!(peek() >= '0' && peek() <= '9')) fail("bad number: no exponent digits");
      while (peek() >= '0' && peek() <= '9') ++i_;
    }
    const std::string text(t_.substr(start, i_ - start));
    const double d = std::strtod(text.c_str(), nullptr);
    if (!std::isfinite(d)) fail("number out of range");
    return d;
  }

  unsigned hex4() {
    unsigned v = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = peek();
      v <<= 4;
      if (c >= '0' && c <= '9') v |= unsigned(c - '0');
      else if (c >= 'a' && c <= 'f') v |= unsigned(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= unsigned(c - 'A' + 10);
      else fail("bad \\u escape");
      ++i_;
    }
    return v;
  }

  static void append_utf8(unsigned cp, std::string& out) {
    if (cp < 0x80) {
      out += char(cp);
    } else if (cp < 0x800) {
      out += char(0xC0 | (cp >> 6));
      out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += char(0xE0 | (cp >> 12));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    } else {
      out += char(0xF0 | (cp >> 18));
      out += char(0x80 | ((cp >> 12) & 0x3F));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    }
  }

  std::string string() {
    expect('"');
    std::string out;
    for (;;) {
      if (i_ >= t_.size()) fail("unterminated string");
      const unsigned char c = static_cast<unsigned char>(t_[i_++]);
      if (c == '"') return out;
      if (c < 0x20) fail("control character in string");
      if (c != '\\') {
        out += char(c);
        continue;
      }
      const char e = peek();
      ++i_;
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00) {
            if (peek() != '\\') fail("unpaired surrogate");
            ++i_;
            if (peek() != 'u') fail("unpaired surrogate");
            ++i_;
            const unsigned lo = hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) fail("bad low surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp < 0xE000) {
            fail("unpaired surrogate");
          }
          append_utf8(cp, out);
          break;
        }
        default: fail("bad escape");
      }
    }
  }

  std::string_view t_;
  const std::string& where_;
  size_t i_ = 0;
};

}  // namespace

void Json::dump_to(std::string& out) const {
  switch (kind_) {
    case Kind::Null: out += "null"; break;
    case Kind::Bool: out += bool_ ? "true" : "false"; break;
    case Kind::Number: {
      RF_CHECK(std::isfinite(number_), "JSON: cannot write the non-finite number " << number_);
      char buf[32];
      if (number_ == std::floor(number_) && std::fabs(number_) < 1e15)
        std::snprintf(buf, sizeof buf, "%.0f", number_);
      else  // the shortest of 15..17 digits that reads back exactly
        for (int digits = 15; digits <= 17; ++digits) {
          std::snprintf(buf, sizeof buf, "%.*g", digits, number_);
          if (std::strtod(buf, nullptr) == number_) break;
        }
      out += buf;
      break;
    }
    case Kind::String: dump_string(string_, out); break;
    case Kind::Array: {
      out += '[';
      for (size_t k = 0; k < array_->size(); ++k) {
        if (k) out += ',';
        (*array_)[k].dump_to(out);
      }
      out += ']';
      break;
    }
    case Kind::Object: {
      out += '{';
      bool first = true;
      for (const auto& [k, v] : *object_) {
        if (!first) out += ',';
        first = false;
        dump_string(k, out);
        out += ':';
        v.dump_to(out);
      }
      out += '}';
      break;
    }
  }
}

std::string Json::dump() const {
  std::string out;
  dump_to(out);
  return out;
}

Json Json::parse(std::string_view text, const std::string& where) {
  return Parser(text, where).document();
}

}  // namespace rf
