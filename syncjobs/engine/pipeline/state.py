"""A pipeline run's state as activities see it: parameters, variables, outputs, datasets, linked services."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from syncjobs.engine.errors import TerminalError
from syncjobs.engine.expressions import NO_ITEM, ExpressionContext, resolve
from syncjobs.engine.expressions.datetimes import format_timestamp
from syncjobs.engine.pipeline.host import RunHost, RunInfo
from syncjobs.engine.pipeline.redaction import Redactor


def find(mapping: dict[str, Any], name: str) -> Any | None:
    """``mapping[name]``, ignoring case as ADF does for object names."""
    if name in mapping:
        return mapping[name]
    lowered = name.strip().lower()
    return next((v for k, v in mapping.items() if k.strip().lower() == lowered), None)


@dataclass
class RunState:
    """Shared by every activity of one run; a ForEach iteration gets a child with its own ``item``."""

    snapshot: dict[str, Any]
    info: RunInfo
    host: RunHost
    parameters: dict[str, Any]
    variables: dict[str, Any]
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    item: Any = NO_ITEM
    redactor: Redactor = field(default_factory=lambda: Redactor({}))
    # Activities that failed where a Failed/Completed path handled it (at any level, ForEach bodies included).
    handled_failures: set[str] = field(default_factory=set)
    # Tables a ChangeTrackingCopy failed to copy in this run ("schema.table" -> error), at any level.
    failed_tables: dict[str, str] = field(default_factory=dict)

    def pipeline_value(self) -> dict[str, Any]:
        """``pipeline()``."""
        info = self.info
        return {
            "RunId": info.run_id,
            "Pipeline": info.pipeline_name,
            "DataFactory": info.data_factory,
            "TriggerTime": format_timestamp(info.trigger_time.astimezone(UTC)),
            "TriggerType": info.trigger_type,
            "TriggerName": info.trigger_name,
            "TriggerId": info.trigger_id,
            "GroupId": info.group_id or info.run_id,
            "parameters": self.parameters,
        }

    def context(self, dataset: dict[str, Any] | None = None) -> ExpressionContext:
        """The expression context here (``dataset`` holds ``dataset()``'s parameters)."""
        return ExpressionContext(
            pipeline=self.pipeline_value(),
            activity_outputs=self.outputs,
            variables=self.variables,
            item=self.item,
            dataset=dataset,
        )

    def resolve(self, value: Any, skip_keys: frozenset[str] = frozenset()) -> Any:
        """``value`` with its expressions evaluated in this run's context."""
        return resolve(value, self.context(), skip_keys)

    def child(self, item: Any, host: RunHost | None = None) -> RunState:
        """The state of one ForEach iteration: its own ``item()`` and outputs, the run's variables."""
        return RunState(
            self.snapshot,
            self.info,
            host or self.host,
            self.parameters,
            self.variables,
            dict(self.outputs),
            item,
            self.redactor,
            self.handled_failures,
            self.failed_tables,
        )

    def dataset(self, reference: dict[str, Any]) -> dict[str, Any]:
        """A DatasetReference's dataset with parameters bound and every expression evaluated."""
        name = str(reference.get("referenceName", ""))
        found = find(self.snapshot.get("datasets", {}), name)
        if found is None:
            raise TerminalError("dataset_not_found", f"dataset '{name}' does not exist")
        dataset: dict[str, Any] = copy.deepcopy(found)
        props = dataset.setdefault("properties", {})
        declared = props.get("parameters") or {}
        values = {k: (v or {}).get("defaultValue") for k, v in declared.items()}
        spelled = {k.lower(): k for k in declared}  # ADF matches a passed value to its parameter in any case
        given = self.resolve(reference.get("parameters") or {})
        values.update({spelled.get(k.lower(), k): v for k, v in given.items()})
        props["typeProperties"] = resolve(props.get("typeProperties") or {}, self.context(dataset=values))
        return dataset

    def linked_service_of(self, dataset: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """The name and revealed definition of a dataset's linked service."""
        name = str(((dataset.get("properties") or {}).get("linkedServiceName") or {}).get("referenceName", ""))
        return name, self.linked_service(name)

    def linked_service(self, name: str) -> dict[str, Any]:
        """A linked service's definition with its secrets (from the host, never from the snapshot)."""
        known = self.snapshot.get("linkedServices", {})
        actual = next((k for k in known if k.lower() == name.strip().lower()), name)
        try:
            return self.host.linked_service(actual)
        except KeyError:
            raise TerminalError("linked_service_not_found", f"linked service '{name}' does not exist") from None
