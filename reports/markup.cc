// Escaping and duration formatting for the report writers.
#include "reports/markup.h"

#include <fmt/format.h>

namespace faultline::reports {

std::string XmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') {
          out += "\xEF\xBF\xBD";
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string MdCell(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n' || c == '\r') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatDuration(int64_t us) {
  if (us < 0) return "-" + FormatDuration(-us);
  if (us < 1000) return fmt::format("{} µs", us);
  if (us < 1'000'000) {
    return us % 1000 == 0 ? fmt::format("{} ms", us / 1000)
                          : fmt::format("{:.1f} ms", static_cast<double>(us) / 1e3);
  }
  if (us < 60'000'000) return fmt::format("{:.3f} s", static_cast<double>(us) / 1e6);
  return fmt::format("{} min {:.1f} s", us / 60'000'000,
                     static_cast<double>(us % 60'000'000) / 1e6);
}

}  // namespace faultline::reports
