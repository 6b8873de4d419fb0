"""Writes whitespace.prom: the 0.0.4 label-set whitespace class (issue 6).

Every position where Prometheus 0.0.4 allows blanks and tabs inside and around
a label set (between the name and `{`, after `{`, before and after `=`, before
and after `,`, before `}`, after a trailing comma) gets each kind of whitespace
alone, then random mixes of all positions; with escapes in values, quoted
label names and a quoted metric name first. Deterministic (fixed seed), so the
committed file is reproducible: `python3 tests/differential/whitespace.py`.
The differential test feeds the file to prometheus_client's parser and to ours
and compares every label.
"""
import os
import random

KINDS = ["", " ", "\t", " \t ", "  "]
POSITIONS = ["name", "open", "before_eq", "after_eq", "before_comma", "after_comma",
             "before_close", "trailing"]
VALUES = ["1.0", "a\\\\b", "q\\\"uote", "new\\nline", "é☃", "} , = {", ""]


def line(i, ws, quoted_name, quoted_label, value):
    labels = [("i", str(i)), ("b" if not quoted_label else '"b.q"', value), ("c", "z")]
    parts = [f'{n}{ws["before_eq"]}={ws["after_eq"]}"{v}"' for n, v in labels]
    if quoted_name:
        parts.insert(0, '"ws_quoted"')
    sep = f'{ws["before_comma"]},{ws["after_comma"]}'
    body = sep.join(parts)
    if ws["trailing"] is not None:
        body += f'{ws["before_comma"]},{ws["trailing"]}'
    lead = "" if quoted_name else "ws" + ws["name"]
    return f'{lead}{{{ws["open"]}{body}{ws["before_close"]}}} {i}\n'


def main():
    rng = random.Random(6)
    out = ["# HELP ws Label sets with whitespace at every allowed position.\n",
           "# TYPE ws gauge\n"]
    quoted = []
    i = 0
    plain = {p: "" for p in POSITIONS}
    plain["trailing"] = None
    for pos in POSITIONS:
        for kind in KINDS[1:]:
            ws = dict(plain)
            ws[pos] = kind
            out.append(line(i, ws, False, False, VALUES[i % len(VALUES)]))
            i += 1
    for _ in range(400):
        ws = {p: rng.choice(KINDS) for p in POSITIONS}
        if rng.random() < 0.5:
            ws["trailing"] = None
        q_name, q_label = rng.random() < 0.25, rng.random() < 0.25
        text = line(i, ws, q_name, q_label, rng.choice(VALUES))
        (quoted if q_name else out).append(text)
        i += 1
    out.append("# TYPE ws_quoted gauge\n")
    out.extend(quoted)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "whitespace.prom")
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(out)


if __name__ == "__main__":
    main()
