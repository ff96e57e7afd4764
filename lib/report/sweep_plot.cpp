// The sweep's pictures (sweep.h): two SVG scatter plots and the self-contained HTML page.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "report/footprint_report.h"
#include "report/sweep.h"

namespace effopt {
namespace {

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string num(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.1f", v);
  return b;
}

bool has_latency(const std::vector<SweepPoint>& points) {
  return std::any_of(points.begin(), points.end(), [](const SweepPoint& p) { return p.latency_ms.has_value(); });
}

std::optional<double> x_of(const SweepPoint& p, SweepPlot plot, bool latency) {
  if (plot == SweepPlot::FileBytes) return p.file_bytes ? std::optional<double>(*p.file_bytes) : std::nullopt;
  if (latency) return p.latency_ms;
  return p.macs ? std::optional<double>(*p.macs) : std::nullopt;
}

std::string x_text(double v, SweepPlot plot, bool latency) {
  if (plot == SweepPlot::FileBytes) return human_bytes(static_cast<uint64_t>(v));
  if (latency) return num(v) + " ms";
  return human_count(static_cast<uint64_t>(v));
}

// The plot body (an <svg> element, no XML prolog).
std::string svg_element(const std::vector<SweepPoint>& points, const SweepInfo& info, SweepPlot plot) {
  const bool latency = has_latency(points);
  const double W = 720, H = 440, L = 80, R = 30, T = 40, B = 60;
  struct Pt { double x, y; const SweepPoint* p; bool frontier; };
  std::vector<Pt> pts;
  for (const SweepPoint& p : points) {
    auto x = x_of(p, plot, latency);
    if (!p.ok() || !x || !p.error || !std::isfinite(*p.error)) continue;
    pts.push_back({*x, *p.error, &p, plot == SweepPlot::FileBytes ? p.pareto : p.pareto_latency});
  }
  double x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  if (!pts.empty()) {
    x0 = x1 = pts[0].x;
    y0 = y1 = pts[0].y;
    for (const Pt& q : pts) {
      x0 = std::min(x0, q.x), x1 = std::max(x1, q.x);
      y0 = std::min(y0, q.y), y1 = std::max(y1, q.y);
    }
  }
  y0 = std::min(y0, 0.0);
  if (y1 <= y0) y1 = y0 + 1;
  // A log axis when the sizes span more than a factor of 20 (pruned and quantized points crowd otherwise).
  const bool logx = x0 > 0 && x1 / x0 > 20;
  auto fx = [&](double v) { return logx ? std::log10(v) : v; };
  double a = fx(x0), b = fx(x1);
  if (b <= a) a -= 1, b += 1;
  const double pad = (b - a) * 0.05;
  a -= pad, b += pad;
  auto sx = [&](double v) { return L + (fx(v) - a) / (b - a) * (W - L - R); };
  auto sy = [&](double v) { return H - B - (v - y0) / (y1 - y0) * (H - T - B) * 0.92; };
  const std::string xlabel = plot == SweepPlot::FileBytes ? "file bytes"
                             : latency ? "latency (effopt's executor on this machine)" : "MACs";
  std::string s = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot\" id=\"plot-" +
                  std::string(plot == SweepPlot::FileBytes ? "bytes" : "speed") + "\" width=\"" + num(W) +
                  "\" height=\"" + num(H) + "\" viewBox=\"0 0 " + num(W) + " " + num(H) + "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  s += "<title>" + xml_escape(info.metric + " against " + xlabel + ": " + info.model) + "</title>\n";
  s += "<rect x=\"0\" y=\"0\" width=\"" + num(W) + "\" height=\"" + num(H) + "\" fill=\"white\"/>\n";
  s += "<text x=\"" + num(W / 2) + "\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">" +
       xml_escape(info.metric + " against " + xlabel) + "</text>\n";
  // Axes with min/max ticks.
  s += "<line x1=\"" + num(L) + "\" y1=\"" + num(H - B) + "\" x2=\"" + num(W - R) + "\" y2=\"" + num(H - B) + "\" stroke=\"black\"/>\n";
  s += "<line x1=\"" + num(L) + "\" y1=\"" + num(T) + "\" x2=\"" + num(L) + "\" y2=\"" + num(H - B) + "\" stroke=\"black\"/>\n";
  if (!pts.empty()) {
    for (double v : {x0, x1})
      s += "<text x=\"" + num(sx(v)) + "\" y=\"" + num(H - B + 16) + "\" text-anchor=\"middle\">" + xml_escape(x_text(v, plot, latency)) + "</text>\n";
    char b1[32], b2[32];
    std::snprintf(b1, sizeof b1, "%.4g", y0);
    std::snprintf(b2, sizeof b2, "%.4g", y1);
    s += "<text x=\"" + num(L - 6) + "\" y=\"" + num(sy(y0) + 4) + "\" text-anchor=\"end\">" + b1 + "</text>\n";
    s += "<text x=\"" + num(L - 6) + "\" y=\"" + num(sy(y1) + 4) + "\" text-anchor=\"end\">" + b2 + "</text>\n";
  }
  s += "<text x=\"" + num((L + W - R) / 2) + "\" y=\"" + num(H - 20) + "\" text-anchor=\"middle\">" + xml_escape(xlabel) +
       (logx ? " (log scale)" : "") + "</text>\n";
  s += "<text transform=\"translate(18," + num((T + H - B) / 2) + ") rotate(-90)\" text-anchor=\"middle\">" +
       xml_escape(info.metric) + " (lower is better)</text>\n";
  // The frontier, joined in order of x.
  std::vector<Pt> f;
  for (const Pt& q : pts)
    if (q.frontier) f.push_back(q);
  std::sort(f.begin(), f.end(), [](const Pt& p, const Pt& q) { return p.x < q.x || (p.x == q.x && p.y > q.y); });
  if (f.size() > 1) {
    s += "<polyline class=\"frontier-line\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\" points=\"";
    for (const Pt& q : f) s += num(sx(q.x)) + "," + num(sy(q.y)) + " ";
    s += "\"/>\n";
  }
  // Labels of points that (nearly) coincide are stacked upwards, so each name stays readable.
  struct Label { double x, y, w; };
  std::vector<Label> placed;
  for (const Pt& q : pts) {
    const std::string name = xml_escape(q.p->name);
    const double w = 6.5 * static_cast<double>(q.p->name.size());  // about 6.5 px a character at 11 px
    double lx = sx(q.x) + 7, ly = sy(q.y) - 5;
    if (lx + w > W) lx = sx(q.x) - 7 - w;  // at the right edge: left of the point
    for (bool moved = true; moved;) {
      moved = false;
      for (const Label& o : placed)
        if (lx < o.x + o.w && o.x < lx + w && std::abs(o.y - ly) < 11) ly -= 12, moved = true;
    }
    placed.push_back({lx, ly, w});
    s += "<g><circle class=\"point" + std::string(q.frontier ? " frontier" : "") + "\" data-name=\"" + name + "\" cx=\"" +
         num(sx(q.x)) + "\" cy=\"" + num(sy(q.y)) + "\" r=\"" + (q.frontier ? "6" : "4") + "\" fill=\"" +
         (q.frontier ? "#d62728" : "#1f77b4") + "\"><title>" + name + "</title></circle>";
    s += "<text x=\"" + num(lx) + "\" y=\"" + num(ly) + "\">" + name + "</text></g>\n";
  }
  s += "</svg>\n";
  return s;
}

std::string cell(const std::optional<uint64_t>& v, bool bytes) {
  if (!v) return "";
  return bytes ? human_bytes(*v) : human_count(*v);
}

std::string cell(const std::optional<double>& v) {
  if (!v) return "";
  char b[32];
  std::snprintf(b, sizeof b, "%.6g", *v);
  return b;
}

}  // namespace

std::string sweep_svg(const std::vector<SweepPoint>& points, const SweepInfo& info, SweepPlot plot) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + svg_element(points, info, plot);
}

std::string sweep_html(const std::vector<SweepPoint>& points, const SweepInfo& info) {
  const bool latency = has_latency(points);
  std::string s =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>effopt sweep: " + xml_escape(info.model) +
      "</title>\n<style>\nbody{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
      "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}td.l{text-align:left;font-family:monospace}"
      "tr.frontier{background:#fde0e0}.plots{display:flex;flex-wrap:wrap;gap:1em}\n</style>\n</head>\n<body>\n";
  s += "<h1>effopt sweep: " + xml_escape(info.model) + "</h1>\n<p>Error: " + xml_escape(info.metric) + " on " +
       xml_escape(info.data) + ", against the unmodified model. Red points are on the Pareto frontier.</p>\n";
  s += "<div class=\"plots\">\n" + svg_element(points, info, SweepPlot::FileBytes) +
       svg_element(points, info, SweepPlot::Speed) + "</div>\n";
  s += "<table>\n<tr><th>frontier</th><th>name</th><th>file</th><th>gzip</th><th>params</th><th>nonzero</th><th>MACs</th>"
       "<th>peak activation</th><th>inference RAM</th><th>latency ms</th><th>" + xml_escape(info.metric) +
       "</th><th>accuracy</th><th>status</th><th>pipeline</th></tr>\n";
  for (const SweepPoint& p : points) {
    std::string mark = std::string(p.pareto ? "bytes " : "") + (p.pareto_latency ? (latency ? "latency" : "MACs") : "");
    s += "<tr" + std::string(p.pareto ? " class=\"frontier\"" : "") + "><td>" + mark + "</td><td class=\"l\">" +
         xml_escape(p.name) + "</td><td>" + cell(p.file_bytes, true) + "</td><td>" + cell(p.gzip_bytes, true) +
         "</td><td>" + cell(p.params, false) + "</td><td>" + cell(p.params_nonzero, false) + "</td><td>" +
         cell(p.macs, false) + "</td><td>" + cell(p.peak_activation_bytes, true) + "</td><td>" +
         cell(p.inference_ram_bytes, true) + "</td><td>" + cell(p.latency_ms) + "</td><td>" + cell(p.error) +
         "</td><td>" + cell(p.accuracy) + "</td><td class=\"l\">" + xml_escape(p.status) +
         (p.reason.empty() ? "" : ": " + xml_escape(p.reason)) + "</td><td class=\"l\">" + xml_escape(p.pipeline) +
         "</td></tr>\n";
  }
  s += "</table>\n</body>\n</html>\n";
  return s;
}

}  // namespace effopt
