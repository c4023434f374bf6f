// A small, strict XML well-formedness checker for the tests of the JUnit and
// SVG writers (no XML library is a dependency of the project). It parses one
// document into a tree of elements — XML declaration, comments, CDATA,
// attributes in single or double quotes, the five predefined entities and
// character references — and reports the first problem with its offset.
// Not supported (and reported as errors): DTDs, processing instructions other
// than the declaration, and custom entities.
#pragma once

#include <cctype>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace faultline::testing {

struct XmlElement {
  std::string name;
  std::map<std::string, std::string> attributes;  // decoded values
  std::vector<std::unique_ptr<XmlElement>> children;
  std::string text;  // decoded character data directly inside, concatenated

  // Every descendant (and this) named `name`, in document order.
  void FindAll(const std::string& tag, std::vector<const XmlElement*>* out) const {
    if (name == tag) out->push_back(this);
    for (const auto& c : children) c->FindAll(tag, out);
  }
  std::vector<const XmlElement*> FindAll(const std::string& tag) const {
    std::vector<const XmlElement*> out;
    FindAll(tag, &out);
    return out;
  }
  std::string Attr(const std::string& key) const {
    auto it = attributes.find(key);
    return it == attributes.end() ? "" : it->second;
  }
};

class XmlParser {
 public:
  // Parses `text`; on failure returns null and sets `error`.
  static std::unique_ptr<XmlElement> Parse(const std::string& text, std::string* error) {
    XmlParser p(text);
    std::unique_ptr<XmlElement> root = p.Document();
    if (!root) *error = p.error_;
    return root;
  }

 private:
  explicit XmlParser(const std::string& text) : s_(text) {}

  bool Fail(const std::string& what) {
    if (error_.empty()) error_ = what + " at offset " + std::to_string(i_);
    return false;
  }
  bool At(const char* lit) const { return s_.compare(i_, std::char_traits<char>::length(lit), lit) == 0; }
  void Spaces() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  static bool NameChar(char c, bool first) {
    return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':' ||
           static_cast<unsigned char>(c) >= 0x80 ||
           (!first && (std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.'));
  }
  bool Name(std::string* out) {
    size_t start = i_;
    if (i_ >= s_.size() || !NameChar(s_[i_], true)) return Fail("expected a name");
    while (i_ < s_.size() && NameChar(s_[i_], false)) ++i_;
    *out = s_.substr(start, i_ - start);
    return true;
  }
  bool Skip(const char* end, const char* what) {
    size_t at = s_.find(end, i_);
    if (at == std::string::npos) return Fail(std::string("unterminated ") + what);
    i_ = at + std::char_traits<char>::length(end);
    return true;
  }
  // Decodes character data up to (not including) `stop`.
  bool Chars(char stop, std::string* out) {
    while (i_ < s_.size() && s_[i_] != stop) {
      char c = s_[i_];
      if (c == '<') return Fail("'<' inside character data");
      if (c == '&') {
        size_t semi = s_.find(';', i_);
        if (semi == std::string::npos || semi - i_ > 10) return Fail("bad entity reference");
        std::string ref = s_.substr(i_ + 1, semi - i_ - 1);
        static const std::map<std::string, std::string> kNamed = {
            {"lt", "<"}, {"gt", ">"}, {"amp", "&"}, {"quot", "\""}, {"apos", "'"}};
        if (auto it = kNamed.find(ref); it != kNamed.end()) {
          *out += it->second;
        } else if (ref.size() > 1 && ref[0] == '#') {
          bool hex = ref[1] == 'x';
          std::string digits = ref.substr(hex ? 2 : 1);
          if (digits.empty()) return Fail("empty character reference");
          for (char d : digits) {
            if (hex ? !std::isxdigit(static_cast<unsigned char>(d))
                    : !std::isdigit(static_cast<unsigned char>(d))) {
              return Fail("bad character reference &" + ref + ";");
            }
          }
          *out += '?';
        } else {
          return Fail("unknown entity &" + ref + ";");
        }
        i_ = semi + 1;
        continue;
      }
      if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') {
        return Fail("control character in text");
      }
      *out += c;
      ++i_;
    }
    return true;
  }
  bool Misc() {  // comments and whitespace between top-level items
    while (true) {
      Spaces();
      if (At("<!--")) {
        if (!Skip("-->", "comment")) return false;
      } else {
        return true;
      }
    }
  }
  std::unique_ptr<XmlElement> Document() {
    if (At("<?xml")) {
      if (!Skip("?>", "XML declaration")) return nullptr;
    }
    if (!Misc()) return nullptr;
    if (At("<!DOCTYPE")) {
      Fail("DTDs are not supported");
      return nullptr;
    }
    auto root = Element();
    if (!root || !Misc()) return nullptr;
    if (i_ != s_.size()) {
      Fail("content after the root element");
      return nullptr;
    }
    return root;
  }
  std::unique_ptr<XmlElement> Element() {
    if (!At("<")) {
      Fail("expected '<'");
      return nullptr;
    }
    ++i_;
    auto e = std::make_unique<XmlElement>();
    if (!Name(&e->name)) return nullptr;
    while (true) {
      size_t before = i_;
      Spaces();
      if (At("/>")) {
        i_ += 2;
        return e;
      }
      if (At(">")) {
        ++i_;
        break;
      }
      if (i_ == before) {
        Fail("expected whitespace before an attribute");
        return nullptr;
      }
      std::string key, value;
      if (!Name(&key)) return nullptr;
      Spaces();
      if (!At("=")) {
        Fail("expected '=' after attribute " + key);
        return nullptr;
      }
      ++i_;
      Spaces();
      if (i_ >= s_.size() || (s_[i_] != '"' && s_[i_] != '\'')) {
        Fail("expected a quoted value for " + key);
        return nullptr;
      }
      char quote = s_[i_++];
      if (!Chars(quote, &value)) return nullptr;
      if (i_ >= s_.size()) {
        Fail("unterminated attribute value");
        return nullptr;
      }
      ++i_;
      if (!e->attributes.emplace(key, value).second) {
        Fail("attribute " + key + " given twice");
        return nullptr;
      }
    }
    while (true) {
      if (!Chars('<', &e->text)) return nullptr;
      if (i_ >= s_.size()) {
        Fail("unclosed element <" + e->name + ">");
        return nullptr;
      }
      if (At("</")) {
        i_ += 2;
        std::string end;
        if (!Name(&end)) return nullptr;
        Spaces();
        if (end != e->name || !At(">")) {
          Fail("</" + end + "> does not close <" + e->name + ">");
          return nullptr;
        }
        ++i_;
        return e;
      }
      if (At("<!--")) {
        if (!Skip("-->", "comment")) return nullptr;
      } else if (At("<![CDATA[")) {
        size_t start = i_ + 9;
        if (!Skip("]]>", "CDATA section")) return nullptr;
        e->text += s_.substr(start, i_ - 3 - start);
      } else if (At("<?") || At("<!")) {
        Fail("unsupported markup");
        return nullptr;
      } else {
        auto child = Element();
        if (!child) return nullptr;
        e->children.push_back(std::move(child));
      }
    }
  }

  const std::string& s_;
  size_t i_ = 0;
  std::string error_;
};

}  // namespace faultline::testing
