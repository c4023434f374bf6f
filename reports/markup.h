// Escaping text for XML, HTML and Markdown output, and formatting run times.
// Shared by every writer in reports/ so each escapes the same way.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace faultline::reports {

// & < > " ' escaped; characters XML 1.0 forbids (controls but tab, LF, CR)
// become U+FFFD so the output always parses.
std::string XmlEscape(std::string_view text);

// A table cell of Markdown: | and newlines escaped.
std::string MdCell(std::string_view text);

// Run time in µs as people read it: "850 ms", "1.250 s", "2 min 5.0 s".
std::string FormatDuration(int64_t us);

}  // namespace faultline::reports
