"""A version's threshold curve on its hold-out, and the threshold a cost model prefers there."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
import strawberry

from vigil.application.model_lines import find_model_line
from vigil.application.permissions import Permission
from vigil.domain.errors import InvalidCommand, ModelVersionNotFound
from vigil.domain.threshold_advice import Advice, CostModel, advise
from vigil.domain.threshold_curve import ThresholdCurve
from vigil.graphql.alerts.queries import invalid_argument
from vigil.graphql.context import Info
from vigil.graphql.permissions import needs


@strawberry.type(description="The hold-out at one threshold: what alerting from it would do.")
class ThresholdCurvePoint:
    threshold: float
    alerts: int
    true_positives: int
    false_positives: int
    frauds_missed: int
    amount_caught: float | None
    amount_missed: float | None
    precision: float
    recall: float
    alert_rate: float


@strawberry.type
class CostPoint:
    threshold: float
    alerts: float
    cost: float


@strawberry.type(description="The cost of the threshold in service, exact when low == high.")
class CurrentCost:
    threshold: float
    low: float
    high: float


@strawberry.type(
    description="The threshold of least expected cost on the version's hold-out, with the cost "
    "at each of the curve's thresholds; costs and alerts per `unit`."
)
class ThresholdAdvice:
    unit: str
    threshold: float
    alerts: float
    cost: float
    within: float = strawberry.field(
        description="No threshold at any hold-out score costs less than cost - within."
    )
    alert_nothing: float
    alert_everything: float
    current: CurrentCost | None
    points: list[CostPoint]

    @classmethod
    def from_domain(cls, advice: Advice) -> ThresholdAdvice:
        current = advice.current
        return cls(
            unit=advice.unit,
            threshold=advice.threshold,
            alerts=advice.alerts,
            cost=advice.cost,
            within=advice.within,
            alert_nothing=advice.alert_nothing,
            alert_everything=advice.alert_everything,
            current=None if current is None else CurrentCost(**vars(current)),
            points=[CostPoint(**vars(p)) for p in advice.points],
        )


def curve_points(document: dict[str, Any] | None) -> list[ThresholdCurvePoint]:
    if document is None:
        return []
    return [ThresholdCurvePoint(**vars(p)) for p in ThresholdCurve.from_json(document).points]


@strawberry.type
class AdviceQueries:
    @strawberry.field(
        extensions=needs(Permission.MODELS_READ),
        description="The threshold that minimises expected cost on the version's hold-out: every "
        "alert costs `reviewCost`, a missed fraud `lossRate` of its amount plus `flatLoss`. Null "
        "when the version was trained without labels.",
    )
    async def threshold_advice(
        self,
        info: Info,
        line: str,
        version: str,
        review_cost: float,
        loss_rate: float = 1.0,
        flat_loss: float = 0.0,
    ) -> ThresholdAdvice | None:
        ctx = info.context
        found = await anyio.to_thread.run_sync(find_model_line, ctx.alert_desk, ctx.tenant_id, line)
        if found is None:
            raise invalid_argument("line", f"no model line named {line!r}")
        try:
            chosen = found.model_version(version)
            costs = CostModel(review_cost, loss_rate, flat_loss)
            document = chosen.card.get("threshold_curve")
            if document is None:
                return None
            advice = advise(ThresholdCurve.from_json(document), costs, chosen.bands.threshold)
        except ModelVersionNotFound as error:
            raise invalid_argument("version", str(error)) from None
        except InvalidCommand as error:
            raise invalid_argument(_argument(error.field), error.reason) from None
        return ThresholdAdvice.from_domain(advice)


def _argument(field: str) -> str:
    """The GraphQL argument a cost model's field came from."""
    head, *rest = field.split("_")
    return head + "".join(part.title() for part in rest)
