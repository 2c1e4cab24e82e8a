// Text helpers for the HTML report: escaping, number formatting ("n/a" for NaN), base64.
#pragma once

#include <string>
#include <string_view>

namespace segq::report {

// Escapes & < > " ' for element text and double- or single-quoted attribute values.
std::string html_escape(std::string_view text);

// `value` with `decimals` digits after the point, "n/a" when not finite.
std::string format_fixed(double value, int decimals);
// 100 * fraction with `decimals` digits ("45.74"), "n/a" when not finite.
std::string format_percent(double fraction, int decimals = 2);
// A signed difference in points: "+0.12", "-3.40", "n/a".
std::string format_points(double fraction_delta, int decimals = 2);
// `value` with 3 significant digits ("0.00123", "14.2", "3.21e+06"), "n/a" when not finite.
std::string format_significant(double value, int digits = 3);

// RFC 4648 base64 with padding.
std::string base64_encode(std::string_view bytes);

// A CSV field: quoted (with doubled quotes) when it holds a comma, quote or line break.
std::string csv_field(std::string_view text);

}  // namespace segq::report
