"""The exported comparison page: one self-contained HTML document, built by pure functions.

The page works opened from disk (`file://`) in any browser: inline CSS and one inline classic
script, no external URL of any kind (no CDN, no fonts, no modules, which a `file://` origin
would block), light and dark from `prefers-color-scheme`. Every interpolated string is escaped;
only relative paths inside the export folder and http(s) URLs become `src` or `href`.

A row (one job) is a mapping with: `job_id, prompt, model, mode, duration, status, total_s,
cost_estimate, cost_unit, error` and the page-relative `video`, `poster`, `filmstrip` (posix
paths such as `videos/<id>.mp4`, or None), plus `video_url` (a remote copy: linked, never
played, so opening the page makes no network request).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import quote

from ._html import esc, http_url
from ._words import format_seconds

__all__ = ["export_page_html", "page_src", "remote_url"]

Row = Mapping[str, Any]

_STATUS_COLOURS: Final[Mapping[str, str]] = {
    "succeeded": "var(--ok)",
    "failed": "var(--bad)",
    "cancelled": "var(--muted)",
    "expired": "var(--muted)",
}

_CSS: Final = """
:root{color-scheme:light dark;--bg:#ffffff;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;
--card:#f6f8fa;--ok:#1a7f37;--bad:#cf222e;--accent:#0969da}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;
--line:#3d444d;--card:#151b23;--ok:#3fb950;--bad:#f85149;--accent:#4493f8}}
*{box-sizing:border-box}
[hidden]{display:none!important}
body{margin:0;padding:16px 20px;background:var(--bg);color:var(--fg);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
h1{font-size:20px;margin:0 0 2px}
.meta{color:var(--muted);font-size:12px}
.controls{margin:12px 0}
.controls button{margin-right:6px;padding:4px 12px;font:inherit;cursor:pointer;
color:var(--fg);background:var(--card);border:1px solid var(--line);border-radius:6px}
.grid{display:grid;gap:12px;grid-template-columns:repeat(auto-fill,minmax(280px,1fr))}
.cell{min-width:0;padding:8px;background:var(--card);border:1px solid var(--line);border-radius:8px}
.prompt{margin:0 0 4px;font-size:14px;font-weight:600;overflow-wrap:anywhere;
display:-webkit-box;-webkit-line-clamp:3;-webkit-box-orient:vertical;overflow:hidden}
.cell video,.cell img{display:block;width:100%;height:auto;border-radius:4px;background:#000}
.cell video{max-height:60vh;object-fit:contain}
.cell img.strip{background:none}
.line{color:var(--muted);font-size:12px;margin-top:4px}
.status{font-weight:600}
.error{color:var(--bad);white-space:pre-wrap;overflow-wrap:anywhere;margin:4px 0}
.none{color:var(--muted);padding:24px 0;text-align:center;border:1px dashed var(--line)}
a{color:var(--accent)}
table{border-collapse:collapse;margin-top:20px;font-size:13px;width:100%}
caption{text-align:left;font-weight:600;padding:4px 0}
th,td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.text{overflow-wrap:anywhere;max-width:40em}
code{font-size:12px}
"""

# A classic inline script (no modules, no fetch): it runs under a strict file:// origin.
# "Play all in sync" rewinds every video, waits until each can play (or failed, or 5 s
# passed), then starts them together. A video that fails to load gives way to its filmstrip.
_SCRIPT: Final = """
(function(){
var vids=Array.prototype.slice.call(document.querySelectorAll("video.kn-video"));
function rewind(v){try{v.currentTime=0;}catch(e){}}
function ready(v){return new Promise(function(done){
if(v.readyState>=3||v.error){done();return;}
v.addEventListener("canplay",function(){done();},{once:true});
v.addEventListener("error",function(){done();},{once:true});
setTimeout(done,5000);});}
function playAll(){vids.forEach(function(v){v.pause();v.preload="auto";rewind(v);});
Promise.all(vids.map(ready)).then(function(){vids.forEach(function(v){
var p=v.play();if(p&&p.catch){p.catch(function(){});}});});}
function pauseAll(){vids.forEach(function(v){v.pause();});}
function restartAll(){vids.forEach(rewind);}
document.getElementById("kn-play").addEventListener("click",playAll);
document.getElementById("kn-pause").addEventListener("click",pauseAll);
document.getElementById("kn-restart").addEventListener("click",restartAll);
vids.forEach(function(v){v.addEventListener("error",function(){
var strip=v.parentNode.querySelector("img.kn-fallback");
if(strip){strip.hidden=false;v.hidden=true;}});});
})();
"""


_e = esc


def _num(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


remote_url = http_url
"""`value` if it is an absolute http(s) URL with a host and no whitespace, else None."""


def page_src(value: object) -> str | None:
    """A relative posix path inside the export folder, URL-quoted; None for anything else.

    Refused: absolute paths, `\\`, `..` or empty segments, a first segment with `:` (a scheme
    or a drive) and control characters.
    Quoting turns `:`, `#`, `?` and quotes into `%xx`, so no path becomes a scheme or fragment.
    """
    if not isinstance(value, str) or not value or "\\" in value:
        return None
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return None
    parts = value.split("/")
    if any(part in ("", ".", "..") for part in parts) or ":" in parts[0]:
        return None  # "c:..." or "javascript:..." read as a scheme by whoever unquotes it
    return quote(value, safe="/")


# -- words --------------------------------------------------------------------------------------


def _seconds(value: object) -> str:
    return format_seconds(_num(value))


def _cost(row: Row) -> str:
    amount = _num(row.get("cost_estimate"))
    if amount is None:
        return "cost unknown"
    return f"{amount:,.2f} {row.get('cost_unit') or 'credits'}"


def _length(row: Row) -> str:
    duration = _num(row.get("duration"))
    return "? s" if duration is None else f"{duration:g} s"


def _short_id(row: Row) -> str:
    # Studio ids are "<date>-<time>-<random hex>": the end is what tells two apart.
    return str(row.get("job_id") or "")[-8:]


def _took(row: Row) -> str:
    seconds = _seconds(row.get("total_s"))
    return "time unknown" if seconds == "?" else f"took {seconds}"


def _status(row: Row) -> str:
    status = str(row.get("status") or "unknown")
    colour = _STATUS_COLOURS.get(status, "var(--accent)")
    return f'<span class="status" style="color:{colour}">{_e(status)}</span>'


# -- blocks -------------------------------------------------------------------------------------


def _media(row: Row) -> str:
    video, poster = page_src(row.get("video")), page_src(row.get("poster"))
    strip = page_src(row.get("filmstrip"))
    label = _e(f"filmstrip of {row.get('prompt') or 'the video'}")
    if video is not None:
        poster_attr = f' poster="{_e(poster)}"' if poster else ""
        fallback = (
            f'<img class="strip kn-fallback" hidden src="{_e(strip)}" alt="{label}">'
            if strip
            else ""
        )
        return (
            f'<video class="kn-video" src="{_e(video)}"{poster_attr} preload="metadata" '
            f"controls muted loop playsinline></video>{fallback}"
        )
    if strip is not None:
        return f'<img class="strip" src="{_e(strip)}" alt="{label}">'
    return '<div class="none">no video</div>'


def _cell(row: Row) -> str:
    prompt = str(row.get("prompt") or "")
    parts = [
        f'<div class="cell"><p class="prompt" title="{_e(prompt)}">{_e(prompt or "(no prompt)")}'
        "</p>",
        _media(row),
        f'<div class="line">{_e(row.get("model") or "?")} · {_e(row.get("mode") or "?")} · '
        f"{_status(row)}</div>",
        f'<div class="line">{_e(_length(row))} video · {_e(_took(row))} · {_e(_cost(row))}</div>',
    ]
    error = row.get("error")
    if isinstance(error, str) and error:
        parts.append(f'<div class="error">{_e(error)}</div>')
    remote = remote_url(row.get("video_url"))
    if remote is not None and page_src(row.get("video")) is None:
        parts.append(
            f'<div class="line"><a href="{_e(remote)}" rel="noopener noreferrer">'
            "remote video (not exported; links expire)</a></div>"
        )
    parts.append(f'<div class="line">job <code>{_e(row.get("job_id") or "?")}</code></div></div>')
    return "".join(parts)


def _table(rows: Sequence[Row]) -> str:
    head = (
        "<tr><th>prompt</th><th>model</th><th>mode</th><th class=num>duration</th>"
        "<th>status</th><th class=num>time</th><th class=num>cost</th><th>id</th></tr>"
    )
    body = "".join(
        f'<tr><td class="text">{_e(row.get("prompt"))}</td><td>{_e(row.get("model"))}</td>'
        f'<td>{_e(row.get("mode"))}</td><td class="num">{_e(_length(row))}</td>'
        f"<td>{_status(row)}</td>"
        f'<td class="num">{_e(_seconds(row.get("total_s")))}</td>'
        f'<td class="num">{_e(_cost(row))}</td>'
        f'<td><code title="{_e(row.get("job_id"))}">{_e(_short_id(row))}</code></td></tr>'
        for row in rows
    )
    return f"<table><caption>Comparison</caption><thead>{head}</thead><tbody>{body}</tbody></table>"


def _summary(rows: Sequence[Row], generated_at: str) -> str:
    costs = [_num(row.get("cost_estimate")) for row in rows]
    known = [cost for cost in costs if cost is not None]
    units = {str(row.get("cost_unit") or "credits") for row in rows}
    total = f" · {sum(known):,.2f} {units.pop()} estimated" if known and len(units) == 1 else ""
    videos = sum(1 for row in rows if page_src(row.get("video")) is not None)
    return (
        f'<div class="meta">{len(rows)} job{"s" if len(rows) != 1 else ""} · {videos} '
        f"video{'s' if videos != 1 else ''}{_e(total)} · exported {_e(generated_at)} "
        "by kling_nb</div>"
    )


def export_page_html(
    rows: Sequence[Row], *, title: str, generated_at: str, table_html: str | None = None
) -> str:
    """The whole comparison page: a titled grid of videos, sync controls and a table.

    `table_html` replaces the built-in comparison table; it is inserted as it is, so it must
    come from an escaping builder (e.g. the ledger table renderer), never from raw text.
    """
    controls = (
        '<div class="controls"><button type="button" id="kn-play">▶ play all in sync</button>'
        '<button type="button" id="kn-pause">pause all</button>'
        '<button type="button" id="kn-restart">restart all</button></div>'
    )
    cells = "".join(_cell(row) for row in rows) or '<div class="none">no jobs</div>'
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{_e(title)}</h1>{_summary(rows, generated_at)}{controls}"
        f'<div class="grid">{cells}</div>'
        f"{table_html if table_html is not None else _table(rows)}"
        f"<script>{_SCRIPT}</script></body></html>\n"
    )
