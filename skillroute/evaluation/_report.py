"""Render an eval result as one self-contained HTML page: confusion heatmap, per-skill bars, tag pass
rates, the confidence histogram and the misroutes."""

from __future__ import annotations

from html import escape
from typing import Any

__all__ = ["render_html"]

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ddd;padding:3px 6px;font-size:13px}
th{background:#f4f4f4}.bar{background:#4a7bd0;height:12px;display:inline-block}
.miss{background:#d0554a}.num{text-align:right}.small{font-size:12px;color:#555}
pre{white-space:pre-wrap;max-height:8em;overflow:auto;margin:0;font-size:12px}
"""


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def render_html(result: dict[str, Any], title: str = "skillroute eval") -> str:
    labels = result["labels"]
    cm = result["confusion_matrix"]
    peak = max((v for row in cm for v in row), default=1) or 1
    h = [f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
         f"<style>{_CSS}</style></head><body><h1>{escape(title)}</h1>"]
    h.append("<h2>Summary</h2><table>")
    rows = [("prompts", result["n"]), ("top-1", _pct(result["top1"])),
            ("top-1 weighted by the real-prompt mix", _pct(result["top1_weighted"])),
            ("recall@3", _pct(result["recall_at_3"])), ("macro-F1", _pct(result["macro_f1"])),
            ("none precision / recall", f"{_pct(result['none']['precision'])} / {_pct(result['none']['recall'])}"),
            ("additive F1", _pct(result["additive"]["f1"]) if result["additive"] else "–"),
            ("explicit invocation accuracy", _pct(result["explicit_accuracy"])),
            ("expected calibration error", f"{result['ece']:.3f}"),
            ("latency p50 / p95", f"{result['latency_ms_p50']:.1f} / {result['latency_ms_p95']:.1f} ms"),
            ("rules: wrong→right / right→wrong (net)",
             f"{result['rules']['wrong_to_right']} / {result['rules']['right_to_wrong']} ({result['rules']['net']:+d})")]
    h += [f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in rows]
    h.append("</table><h2>Confusion matrix</h2><p class='small'>rows: expected, columns: predicted</p><table><tr><th></th>")
    h += [f"<th>{escape(lab)}</th>" for lab in labels]
    h.append("</tr>")
    for lab, row in zip(labels, cm, strict=True):
        h.append(f"<tr><th>{escape(lab)}</th>")
        for j, v in enumerate(row):
            diag = labels[j] == lab
            alpha = v / peak
            color = f"rgba(74,123,208,{alpha:.2f})" if diag else f"rgba(208,85,74,{alpha:.2f})"
            h.append(f"<td class='num' style='background:{color}'>{v or ''}</td>")
        h.append("</tr>")
    h.append("</table><h2>Per skill</h2><table><tr><th>skill</th><th>precision</th><th>recall</th><th>F1</th>"
             "<th>support</th><th>confused with</th></tr>")
    for lab in labels:
        s = result["per_skill"][lab]
        cw = ", ".join(f"{p} ({c})" for p, c in result["confused_with"].get(lab, []))
        h.append(f"<tr><td>{escape(lab)}</td><td>{_pct(s['precision'])}</td><td>{_pct(s['recall'])}</td>"
                 f"<td><span class='bar' style='width:{int(150 * s['f1'])}px'></span> {_pct(s['f1'])}</td>"
                 f"<td class='num'>{s['support']}</td><td class='small'>{escape(cw)}</td></tr>")
    h.append("</table><h2>Pass rate per tag</h2><table><tr><th>tag</th><th>n</th><th>top-1</th></tr>")
    for tag, v in result["per_tag"].items():
        h.append(f"<tr><td>{escape(tag)}</td><td class='num'>{v['n']}</td><td><span class='bar' "
                 f"style='width:{int(150 * v['top1'])}px'></span> {_pct(v['top1'])}</td></tr>")
    hist = result["confidence_histogram"]
    h.append("</table><h2>Confidence: hits and misses</h2><table><tr><th>confidence</th><th>hits</th><th>misses</th></tr>")
    top = max(hist["hits"] + hist["misses"] + [1])
    for i, (a, b) in enumerate(zip(hist["hits"], hist["misses"], strict=True)):
        h.append(f"<tr><td>{hist['edges'][i]:.1f}–{hist['edges'][i + 1]:.1f}</td>"
                 f"<td><span class='bar' style='width:{int(200 * a / top)}px'></span> {a}</td>"
                 f"<td><span class='bar miss' style='width:{int(200 * b / top)}px'></span> {b}</td></tr>")
    errors = [d for d in result["decisions"] if not d["correct"]]
    h.append(f"</table><h2>Misroutes ({len(errors)})</h2><table><tr><th>line</th><th>prompt</th><th>expected</th>"
             "<th>predicted</th><th>confidence</th><th>why</th></tr>")
    for d in errors:
        h.append(f"<tr><td class='num'>{d['line']}</td><td><pre>{escape(d['prompt'][:600])}</pre></td>"
                 f"<td>{escape(d['expected'])}</td><td>{escape(str(d['predicted'] or 'none'))}</td>"
                 f"<td class='num'>{d['confidence']:.2f}</td><td class='small'>{escape(' | '.join(d['reasons']))}</td></tr>")
    h.append("</table></body></html>")
    return "\n".join(h)
