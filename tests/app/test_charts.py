"""Charts: round ticks, time labels fine enough to tell apart, and the pipeline history's axes and hover values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from syncjobs.models import Pipeline
from syncjobs.services.charts import nice_ticks, number, time_chart, time_ticks
from syncjobs.services.runs import trigger_run
from tests.app.pages import text

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("top", "ticks"),
    [(3, [0, 1, 2, 3]), (7, [0, 2, 4, 6, 8]), (950, [0, 500, 1000]), (0.012, [0, 0.005, 0.01, 0.015]), (0, [0, 1])],
)
def test_ticks_are_round_and_reach_the_top(top, ticks):
    assert nice_ticks(top) == pytest.approx(ticks)


def test_tick_labels_are_short():
    assert [number(v) for v in (0, 12, 1500, 2_000_000, 0.25)] == ["0", "12", "1.5k", "2M", "0.25"]


def test_time_labels_follow_the_span():
    assert [label for _, label in time_ticks(START, START + timedelta(hours=1))] == [
        "12:00",
        "12:15",
        "12:30",
        "12:45",
        "13:00",
    ]
    assert time_ticks(START, START + timedelta(days=2))[-1][1] == "03 Mar 12:00"
    assert time_ticks(START, START + timedelta(days=30))[-1][1] == "2026-03-31"


def test_a_chart_places_points_inside_its_axes_with_a_title_each():
    chart = time_chart([(START, 0), (START + timedelta(hours=1), 40)], title="T", y_title="Rows", unit="rows")
    first, last = chart.points
    assert (first.x, first.y) == (chart.left, chart.bottom_edge) and last.x == chart.right_edge
    assert last.y == chart.top and last.title == "2026-03-01 13:00:00 UTC: 40 rows"
    assert [t.label for t in chart.y_ticks] == ["0", "10", "20", "30", "40"]


@pytest.mark.django_db
def test_the_pipeline_history_charts_have_axes_and_hover_values(operator, seeded):
    trigger_run(Pipeline.objects.get(name="IncrementalSync"))
    page = text(operator.get("/monitor/pipelines/IncrementalSync/"))
    assert page.count('<svg class="chart"') == 2 and page.count(">Time (UTC)</text>") == 2
    assert ">Duration (s)</text>" in page and ">Rows</text>" in page
    assert " UTC: 5 rows</title>" in page  # the tutorial's first copy: its 5 rows
