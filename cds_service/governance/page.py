"""The governance page: the summary's numbers as one self-contained HTML document.

Rendered on the server from the same dictionary that ``/governance/api/summary`` returns, so
the page and the JSON can never disagree. No script, no external stylesheet, font or image:
the page must open on a ward PC with no internet. Everything that came from the database or the
artifact is escaped (clinicians' comments above all); the charts are inline SVG (``svg.py``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from cds_service.audit.records import OUTCOMES
from cds_service.governance.svg import Bar, Strip, esc, horizontal_bars, number, weekly_strips

MAX_WEEKS = 16  # columns in a rule's weekly chart; the table below it lists every week
OVERRIDE_ALERT = 0.5  # warn when at least this share of a rule's answered cards was overridden…
OVERRIDE_ALERT_MIN_ANSWERS = 5  # …out of at least this many answers (fewer says little)

MEASURES: tuple[tuple[str, str, str], ...] = (  # key, label, colour (Okabe-Ito, colour-blind safe)
    ("firings", "Firings", "#0072B2"),
    ("cardsShown", "Cards shown", "#56B4E9"),
    ("accepted", "Accepted", "#009E73"),
    ("overridden", "Overridden", "#D55E00"),
    ("comments", "Comments", "#CC79A7"),
    ("wouldFire", "Silent would-fire", "#6b7780"),
)
PROBLEM_OUTCOMES = frozenset({"deadline", "precondition-failed", "rejected", "error"})

GLOSSARY = (
    '<dl class="terms">'
    "<dt>Firings</dt><dd>the rule's conditions were met for a report (active rules)</dd>"
    "<dt>Cards shown</dt><dd>cards the rule sent to the EHR (fewer than firings when a card was "
    "withheld: already answered, already done, or out of time)</dd>"
    "<dt>Accepted / Overridden</dt><dd>what clinicians did with those cards (feedback); override "
    "rate = overridden ÷ (accepted + overridden)</dd>"
    "<dt>Silent would-fire</dt><dd>a silent rule's conditions were met: counted, never shown "
    "(hatched bars)</dd></dl>"
)

STYLE = """
body{margin:0;background:#f5f7fa;color:#1f2933;font:15px/1.45 system-ui,-apple-system,'Segoe UI',
Roboto,'DejaVu Sans',sans-serif}
main{max-width:1100px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:20px;margin:32px 0 10px;border-bottom:2px solid #d9dee3;
padding-bottom:4px}h3{font-size:17px;margin:24px 0 8px}
.sub{color:#616e7c;margin:0 0 16px}
section.panel{background:#fff;border:1px solid #d9dee3;border-radius:8px;padding:12px 18px 16px;
margin:12px 0}
.alerts{list-style:none;padding:0;margin:16px 0}
.alerts li{background:#fdecea;border-left:6px solid #b3261e;padding:8px 12px;margin:6px 0;
font-weight:600}
.alerts li.ok{background:#e6f4ea;border-color:#1e7b34}
.tiles{display:flex;flex-wrap:wrap;gap:10px;margin:8px 0}
.tile{flex:1 1 0;background:#fff;border:1px solid #d9dee3;border-radius:8px;padding:8px 12px;min-width:96px}
.tile b{display:block;font-size:24px}.tile span{color:#616e7c;font-size:13px}
table{border-collapse:collapse;width:100%;margin:8px 0;background:#fff}
th,td{border:1px solid #d9dee3;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#eef1f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
th[scope=row],td.when,td.reason{white-space:nowrap}td.comment{width:55%}
dl.terms{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:6px 0 0;color:#3e4c59}
dl.terms dt{font-weight:600}dl.terms dd{margin:0}
tbody tr:nth-child(even){background:#f9fafb}
.badge{display:inline-block;border-radius:4px;padding:1px 8px;font-size:13px;font-weight:700;
border:1px solid}
.badge.ok{background:#e6f4ea;color:#1e5b2c;border-color:#1e7b34}
.badge.warn{background:#fff4d6;color:#6b4a00;border-color:#b07d00}
.badge.bad{background:#fdecea;color:#8c1d18;border-color:#b3261e}
.badge.quiet{background:#eceff1;color:#37474f;border-color:#6b7780}
.comment{white-space:pre-wrap;overflow-wrap:anywhere}
.none{color:#616e7c;font-style:italic}
svg{display:block;max-width:100%;height:auto}
"""


def render_page(summary: Mapping[str, Any]) -> str:
    """The whole page for one summary (``cds_service.governance.summary.collect``)."""
    artifact: Mapping[str, Any] = summary["artifact"]
    body = "".join(
        [
            f"<h1>Rule governance: {esc(artifact['title'])}</h1>",
            f'<p class="sub">Invocations received since {esc(when(summary["since"]))}; '
            f"page generated {esc(when(summary['generatedAt']))}. Weeks are ISO weeks of the invocation.</p>",
            _alerts(summary),
            _totals(summary),
            _artifact(artifact),
            _latency(summary["latency"]),
            _outcomes(summary["outcomes"]),
            _rules(summary["rules"], artifact["rules"]),
            _comments(summary["recentComments"]),
        ]
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>Rule governance: {esc(artifact['id'])} {esc(artifact['version'])}</title>"
        f"<style>{STYLE}</style></head><body><main>{body}</main></body></html>"
    )


# ------------------------------------------------------------------------- warnings first


def warnings(summary: Mapping[str, Any]) -> list[str]:
    """What governance must act on, in words, at the top of the page."""
    artifact, latency = summary["artifact"], summary["latency"]
    found = []
    if artifact["expired"]:
        found.append(f"Knowledge artifact {artifact['version']} expired on {artifact['expiryDate']}.")
    elif artifact["expiresSoon"]:
        found.append(f"Knowledge artifact {artifact['version']} expires on {artifact['expiryDate']}.")
    if artifact["reviewOverdue"]:
        found.append(
            f"Review overdue: last reviewed {artifact['lastReviewDate']}, due {artifact['reviewDueDate']}."
        )
    if latency["p95Ms"] is not None and latency["p95Ms"] > latency["targetMs"]:
        found.append(
            f"Latency p95 {number(latency['p95Ms'])} ms is over the {number(latency['targetMs'])} ms target."
        )
    found += _override_alerts(summary["rules"])
    problems = sum(count for outcome, count in summary["outcomes"].items() if outcome in PROBLEM_OUTCOMES)
    if problems:
        found.append(f"{problems} invocation(s) ended in a deadline, refusal or error.")
    if summary["unknownCardFeedback"]:
        found.append(
            f"{summary['unknownCardFeedback']} feedback item(s) named a card this service never sent."
        )
    return found


def _override_alerts(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    by_rule: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_rule.setdefault(row["ruleId"], []).append(row)
    found = []
    for rule_id, weeks in sorted(by_rule.items()):
        totals = _sum_weeks(weeks)
        answered = totals["accepted"] + totals["overridden"]
        if answered >= OVERRIDE_ALERT_MIN_ANSWERS and totals["overridden"] / answered >= OVERRIDE_ALERT:
            found.append(
                f"{rule_id}: {totals['overridden']} of {answered} answered cards were overridden "
                f"({_rate(totals)}); read the comments below."
            )
    return found


def when(instant: str) -> str:
    """'2026-07-06T09:30:00.000Z' as '2026-07-06 09:30 UTC': the minute is precise enough to read."""
    if len(instant) >= 16 and instant[10] == "T" and instant.endswith("Z"):
        return f"{instant[:10]} {instant[11:16]} UTC"
    return instant


def _alerts(summary: Mapping[str, Any]) -> str:
    found = warnings(summary)
    if not found:
        return '<ul class="alerts"><li class="ok">✓ Nothing needs attention.</li></ul>'
    items = "".join(f"<li>⚠ Warning: {esc(text)}</li>" for text in found)
    return f'<ul class="alerts" aria-label="Warnings">{items}</ul>'


def _totals(summary: Mapping[str, Any]) -> str:
    totals = _sum_weeks(summary["rules"])
    tiles = [
        ("Invocations", summary["latency"]["count"]),
        ("Firings", totals["firings"]),
        ("Cards shown", totals["cardsShown"]),
        ("Accepted", totals["accepted"]),
        ("Overridden", totals["overridden"]),
        ("Override rate", _rate(totals)),
        ("Silent would-fire", totals["wouldFire"]),
        ("Comments", totals["comments"]),
    ]
    cells = "".join(
        f'<div class="tile"><b>{esc(value)}</b><span>{esc(label)}</span></div>' for label, value in tiles
    )
    return f'<h2>At a glance</h2><div class="tiles">{cells}</div>'


# ------------------------------------------------------------------------------ artifact


def _artifact(artifact: Mapping[str, Any]) -> str:
    expiry = (
        _badge("bad", "EXPIRED")
        if artifact["expired"]
        else _badge("warn", "EXPIRES SOON")
        if artifact["expiresSoon"]
        else _badge("ok", "in date")
    )
    review = _badge("bad", "REVIEW OVERDUE") if artifact["reviewOverdue"] else _badge("ok", "on schedule")
    rows = [
        ("Artifact", f"{esc(artifact['id'])} — {esc(artifact['title'])}"),
        ("Version", f"<b>{esc(artifact['version'])}</b> ({esc(artifact['status'])})"),
        ("Steward", esc(artifact["steward"])),
        ("Approved", esc(artifact["approvalDate"])),
        (
            "Last review",
            f"{esc(artifact['lastReviewDate'])}; next due {esc(artifact['reviewDueDate'])} {review}",
        ),
        ("Expiry", f"{esc(artifact['expiryDate'])} {expiry}"),
        ("Content hash", f"<code>{esc(artifact['contentHash'][:16])}…</code>"),
    ]
    cells = "".join(f"<tr><th scope='row'>{label}</th><td>{value}</td></tr>" for label, value in rows)
    return f'<h2>Knowledge artifact</h2><table aria-label="Knowledge artifact">{cells}</table>'


def _badge(kind: str, text: str) -> str:
    return f'<span class="badge {kind}">{esc(text)}</span>'


# ------------------------------------------------------------------- latency and outcomes


def _latency(latency: Mapping[str, Any]) -> str:
    if not latency["count"]:
        return '<h2>Latency</h2><p class="none">No invocations in this period.</p>'
    target = float(latency["targetMs"])
    bars = [
        Bar(
            name,
            float(latency[key]),
            "#009E73" if latency[key] <= target else "#D55E00",
            "within target" if latency[key] <= target else "OVER TARGET",
        )
        for name, key in (("p50 (median)", "p50Ms"), ("p95", "p95Ms"), ("p99", "p99Ms"))
    ]
    chart = horizontal_bars(
        bars,
        title="Latency percentiles against the target",
        unit=" ms",
        target=target,
        target_label=f"target {number(target)} ms",
    )
    return (
        "<h2>Latency</h2><section class='panel'>"
        f"<p>{latency['count']} invocations; {latency['overTarget']} took longer than "
        f"{number(target)} ms (dashed line).</p>{chart}</section>"
    )


def _outcomes(outcomes: Mapping[str, int]) -> str:
    total = sum(outcomes.values())
    if not total:
        return '<h2>Outcomes</h2><p class="none">No invocations in this period.</p>'
    ordered = [name for name in OUTCOMES if name in outcomes] + sorted(set(outcomes) - set(OUTCOMES))
    bars = [
        Bar(
            name,
            outcomes[name],
            "#D55E00" if name in PROBLEM_OUTCOMES else "#0072B2",
            f"({outcomes[name] / total:.0%}){' problem' if name in PROBLEM_OUTCOMES else ''}",
        )
        for name in ordered
    ]
    chart = horizontal_bars(bars, title="Invocations by outcome")
    return (
        "<h2>Outcomes</h2><section class='panel'>"
        f"<p>{total} invocations by how they ended; deadlines, refusals and errors are marked "
        f"“problem” and drawn in orange.</p>{chart}</section>"
    )


# ------------------------------------------------------------------------- rules by week


def _rules(rows: Sequence[Mapping[str, Any]], catalogue: Sequence[Mapping[str, Any]]) -> str:
    weeks = week_columns(row["week"] for row in rows)
    known = {rule["ruleId"] for rule in catalogue}
    others = sorted({row["ruleId"] for row in rows} - known)
    rules = [
        *catalogue,
        *(
            {"ruleId": rule_id, "title": "not in this artifact", "version": "?", "status": "unknown"}
            for rule_id in others
        ),
    ]
    note = (
        (
            f'<p class="sub">Charts show the last {MAX_WEEKS} weeks with activity; the tables list '
            "every week.</p>"
        )
        if len({row["week"] for row in rows}) > len(weeks)
        else ""
    )
    parts = [_rule(rule, [row for row in rows if row["ruleId"] == rule["ruleId"]], weeks) for rule in rules]
    return f"<h2>Rules by week</h2>{GLOSSARY}{note}{''.join(parts)}"


def week_columns(weeks: Iterable[str]) -> list[str]:
    """Every ISO week from the first to the last with activity (quiet weeks too), the latest last."""
    seen = sorted(set(weeks))
    if not seen:
        return []
    first, last = (_monday(week) for week in (seen[0], seen[-1]))
    count = (last - first).days // 7 + 1
    columns = [first + timedelta(weeks=index) for index in range(count)][-MAX_WEEKS:]
    return [f"{day.isocalendar()[0]}-W{day.isocalendar()[1]:02d}" for day in columns]


def _monday(week: str) -> date:
    year, number_of_week = week.split("-W")
    return date.fromisocalendar(int(year), int(number_of_week), 1)


def _rule(rule: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], weeks: Sequence[str]) -> str:
    status = str(rule["status"])
    kind = {"active": "ok", "silent": "quiet", "retired": "warn"}.get(status, "bad")
    heading = (
        f"<h3 id='rule-{esc(rule['ruleId'])}'>{esc(rule['ruleId'])} "
        f"<small>v{esc(rule['version'])} — {esc(rule['title'])}</small> "
        f"{_badge(kind, status)}</h3>"
    )
    if not rows:
        return f'{heading}<p class="none">No firings, cards or feedback in this period.</p>'
    by_week = {row["week"]: row for row in rows}
    strips = [
        Strip(
            label,
            [int(by_week.get(week, {}).get(key, 0)) for week in weeks],
            colour,
            hatched=key == "wouldFire",
        )
        for key, label, colour in MEASURES
    ]
    chart = weekly_strips(
        weeks, strips, title=f"{rule['ruleId']} per ISO week", chart_id=f"chart-{rule['ruleId']}"
    )
    return f"{heading}<section class='panel'>{chart}{_rule_table(rows)}{_reasons(rule, rows)}</section>"


def _rule_table(rows: Sequence[Mapping[str, Any]]) -> str:
    header = "".join(f"<th scope='col'>{esc(label)}</th>" for _, label, _ in MEASURES)
    body = "".join(
        f"<tr><th scope='row'>{esc(row['week'])}</th>"
        + "".join(f"<td class='n'>{int(row[key])}</td>" for key, _, _ in MEASURES)
        + f"<td class='n'>{esc(_rate(row))}</td><td>{esc(_reason_list(row['overrideReasons']))}</td></tr>"
        for row in rows
    )
    return (
        f"<table><thead><tr><th scope='col'>Week</th>{header}<th scope='col'>Override rate</th>"
        f"<th scope='col'>Override reasons</th></tr></thead><tbody>{body}</tbody></table>"
    )


def _reasons(rule: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> str:
    reasons: Counter[str] = Counter()
    for row in rows:
        reasons.update(row["overrideReasons"])
    if not reasons:
        return ""
    bars = [Bar(reason, count, "#D55E00") for reason, count in reasons.most_common()]
    chart = horizontal_bars(bars, title=f"Override reasons for {rule['ruleId']}", label_width=230)
    return f"<h4>Why clinicians overrode {esc(rule['ruleId'])}</h4>{chart}"


def _reason_list(reasons: Mapping[str, int]) -> str:
    return ", ".join(f"{reason} ×{count}" for reason, count in reasons.items()) or "—"


def _rate(counts: Mapping[str, Any]) -> str:
    """Overridden as a share of the cards clinicians answered."""
    answered = int(counts["accepted"]) + int(counts["overridden"])
    return f"{int(counts['overridden']) / answered:.0%}" if answered else "—"


def _sum_weeks(rows: Sequence[Mapping[str, Any]]) -> Counter[str]:
    totals: Counter[str] = Counter({key: 0 for key, _, _ in MEASURES})
    for row in rows:
        totals.update({key: int(row[key]) for key, _, _ in MEASURES})
    return totals


# ------------------------------------------------------------------------------ comments


def _comments(comments: Sequence[Mapping[str, Any]]) -> str:
    if not comments:
        return '<h2>Recent comments</h2><p class="none">No comments in this period.</p>'
    rows = "".join(
        f"<tr><td class='when'>{esc(when(item['at']))}</td><td>{esc(item['ruleId'])}</td>"
        f"<td>{esc(item['outcome'])}</td>"
        f"<td class='reason'>{esc(item['reason'] or '—')}</td>"
        f"<td class='comment'>{esc(item['comment'])}</td></tr>"
        for item in comments
    )
    return (
        "<h2>Recent comments</h2><p class='sub'>Clinicians' own words, newest first: a run of angry "
        "comments is the earliest sign of a rule that misfires.</p><table><thead><tr>"
        "<th scope='col'>When</th><th scope='col'>Rule</th><th scope='col'>Outcome</th>"
        "<th scope='col'>Reason</th><th scope='col'>Comment</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )
