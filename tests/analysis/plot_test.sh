#!/bin/bash
# collemu-plot (analysis/python): the sweep's and a run's PNG plots are written and not blank; the HTML report renders
# in a real browser (headless Chromium, Debian's package: a screenshot that is not blank) and the values it carries
# (its table and its JSON) equal the sweep file's, read independently with h5py. $COLLEMU, $COLLEMU_PLOT: under test.
source "$(dirname "${BASH_SOURCE[0]}")/../cli/check.sh"
PY=
for p in python3 /usr/bin/python3; do if "$p" -c "import h5py, matplotlib" 2> /dev/null; then PY=$p; break; fi; done
check "python3 with h5py and matplotlib (scripts/setup.sh installs them)" test -n "$PY"

"$COLLEMU" trace gen llm -o "$tmp/t128.h5" --gpus 128 --tp 8 --pp 1 --dp 16 --layers 2 --hidden 2048 --ffn 8192 \
  --heads 16 --kv-heads 8 --vocab 32000 --seq 2048 --microbatches 2 --dp-mode allreduce > /dev/null
scenario=(--trace "$tmp/t128.h5" --set scaleup.gpus=8 --set building.gpus=64 --placement spread)
"$COLLEMU" sweep "${scenario[@]}" --param bag.oversubscription=1:1,2:1,4.5:1,7:1 --param fabric.kind=dsf,nsf,mixed \
  --seeds 2 --out "$tmp/sw.h5" > /dev/null
"$COLLEMU" run "${scenario[@]}" -q --out "$tmp/r.h5" > /dev/null

# Not blank: more than one colour, and a good share of the pixels not the background.
not_blank() { "$PY" -c '
import sys
import matplotlib.image as im
import numpy as np
for path in sys.argv[1:]:
    a = im.imread(path)[..., :3]
    bg = a[0, 0]
    drawn = np.mean(np.any(np.abs(a - bg) > 0.05, axis=-1))
    assert a.std() > 0.01 and drawn > 0.02, (path, a.std(), drawn)
' "$@"; }
"$COLLEMU_PLOT" sweep "$tmp/sw.h5" -o "$tmp/plots" > /dev/null
check "sweep plots: step time, breakdown, BAG and per-tier utilisation" not_blank "$tmp"/plots/{step_time,breakdown,bag_utilisation,tiers}.png
"$COLLEMU_PLOT" run "$tmp/r.h5" -o "$tmp/runplots" > /dev/null
check "run plots: collectives, tiers over time, busiest links" not_blank "$tmp"/runplots/{collectives,tiers,links}.png

"$COLLEMU_PLOT" report "$tmp/sw.h5" -o "$tmp/report.html" > /dev/null
check "the report is one self-contained page (no external resources)" bash -c '! grep -Eq "(src|href)=\"(https?:)?//" "$0"' "$tmp/report.html"
browser=$(command -v chromium || command -v chromium-browser || true)
check "a headless Chromium (scripts/setup.sh installs Debian's chromium)" test -n "$browser"
if [[ -n $browser ]]; then
  flags=(--headless --disable-gpu --no-sandbox --window-size=1200,1800)
  timeout 120 "$browser" "${flags[@]}" --screenshot="$tmp/shot.png" "file://$tmp/report.html" > /dev/null 2>&1
  check "the browser renders the report (a screenshot that is not blank)" not_blank "$tmp/shot.png"
  timeout 120 "$browser" "${flags[@]}" --dump-dom "file://$tmp/report.html" > "$tmp/dom.html" 2> /dev/null
  check "the values the page plots and lists are the sweep file's" "$PY" -c '
import html, json, re, sys
import h5py
dom = open(sys.argv[1]).read()
data = json.loads(re.search(r"<script type=\"application/json\" id=\"collemu-data\">(.*?)</script>", dom, re.S).group(1).replace("<\\/", "</"))
f = h5py.File(sys.argv[2])
step, point, seed = f["step_time_s"][:], f["point"][:], f["seed"][:]
kind = [v.decode() for v in f["params/fabric.kind"][:]]
ratio = [v.decode() for v in f["params/bag.oversubscription"][:]]
assert len(data["rows"]) == len(step) == 24
for r, s in zip(data["rows"], step):
    assert r["step_time_s"] == s, (r, s)
# The plotted lines: per fabric kind, per ratio, the mean, min and max of the two seeds.
for line in data["lines"]:
    k = line["label"].split("=")[1]
    for x, p, mean, lo, hi in zip(line["x"], line["points"], line["mean_s"], line["min_s"], line["max_s"]):
        vals = [step[i] for i in range(len(step)) if point[i] == p]
        assert all(kind[i] == k and ratio[i] == x for i in range(len(step)) if point[i] == p)
        assert abs(mean - sum(vals) / len(vals)) <= 1e-15 * mean and lo == min(vals) and hi == max(vals), (line, vals)
# The table the browser shows: every step time, as repr of the double.
cells = re.findall(r"<td data-col=\"step_time_s\">([^<]*)</td>", dom)
assert [float(html.unescape(c)) for c in cells] == list(step), cells[:3]
' "$tmp/dom.html" "$tmp/sw.h5"
fi
check "a results file is not a sweep" bash -c '"$0" sweep "$1" -o "$2" 2>&1 | grep -q "format .collemu-results.; expected .collemu-sweep."' "$COLLEMU_PLOT" "$tmp/r.h5" "$tmp/x"
finish
