"""The session's output steps: the memo, the per-customer files (segments, CRM import,
new customers assigned), the drift report, the glossary, and the per-level segmentation within
an anchor (written to its own folder; the session's segments stay as they were). ``Session`` inherits them; each
is a thin step over a ``copilot.workflow`` use-case that the commands call too."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from copilot.agent.state import SessionState
from copilot.core import InputError
from copilot.segmentation import load_table

if TYPE_CHECKING:
    from copilot.report import MemoFiles
    from copilot.segmentation import AnchoredSegmentation, DriftReport, Glossary
    from copilot.workflow import OwnCustomers


class SessionOutputs(SessionState):
    """The steps that write a session's results out (see ``copilot.agent.session.Session``)."""

    def within_path(self, column: str) -> Path:
        """Where ``segment_within(column)`` writes by default: ``within-<column>/``."""
        from copilot.segmentation import folder_name

        return self.session_dir / f"within-{folder_name(column, 'anchor')}"

    def segment_within(self, column: str, folder: str | Path | None = None
                       ) -> AnchoredSegmentation | None:
        """Segment each level of an anchor column (industry, size band, region) on its own.

        Numbers only, written like ``segment --anchor COL --anchor-mode within`` to ``folder``
        (default ``within-<column>/`` in the session folder). The session's own segments, names
        and strategy stay as they were: a level's segments are another analysis, not these.
        """

        def work() -> AnchoredSegmentation:
            from copilot.segmentation import check_anchored_folder
            from copilot.workflow import segment_within_levels

            frame = self._frame()
            out = self.output_path(folder, self.within_path(column))
            check_anchored_folder(out)
            # Each level finds its own k (within the user's band); the anchor itself is not a
            # feature there, and the other suggested anchors are reported per level.
            settings = self.settings.model_copy(update={"anchors": None, "k": None})
            result, _, _ = segment_within_levels(frame, column, settings, out,
                                                 progress=self._progress)
            s = result.summary
            done = [g for g in s.groups if g.segmented]
            self._emit("result", f"Segmented within {column}: {s.n_segments} segments in "
                       f"{len(done)} level(s), written to {out}.", step="segment_within",
                       column=column, path=str(out), segments=s.n_segments,
                       levels={g.level: g.k for g in done})
            return result

        args = {"column": column, **({"folder": str(folder)} if folder else {})}
        return self._step("segment_within", args, work, save=False)

    def export_memo(self, path: str | Path | None = None) -> MemoFiles | None:
        """Write the strategy memo (default: ``memo.md`` in the session folder)."""

        def work() -> MemoFiles:
            from copilot.workflow import write_strategy_memo

            if self.analysis is None:
                raise InputError("There is nothing to put in a memo yet; run the segmentation "
                                 "first.")
            out = self.output_path(path, self.session_dir / "memo.md")
            files = write_strategy_memo(self.analysis, self.writing, out, goal=self.goal)
            self._emit("result", f"Wrote the memo to {files.memo}.", step="export_memo",
                       path=str(files.memo), charts=[str(c) for c in files.charts])
            return files

        return self._step("export_memo", {"path": str(path)} if path else {}, work)

    def export_assignments(self, path: str | Path | None = None) -> Path | None:
        """Write each customer's segment ID, name and confidence as CSV (default:
        ``segments.csv`` in the session folder). Works after a resume: the per-row segments
        are read from the session folder."""

        def work() -> Path:
            from copilot.workflow import write_csv

            if self.analysis is None:
                raise InputError("There are no segments to export yet; run the segmentation "
                                 "first.")
            frame = self.folder.named_assignments(self.segment_names())
            out = self.output_path(path, self.session_dir / "segments.csv")
            write_csv(frame, out)
            self._emit("result", f"Wrote {len(frame):,} customers' segments to {out}.",
                       step="export_assignments", path=str(out), rows=len(frame))
            return out

        return self._step("export_assignments", {"path": str(path)} if path else {}, work)

    def assign_new(self, path: str | Path, out: str | Path | None = None) -> Path | None:
        """Assign the customers in another file to the session's segments (CRM columns:
        segment, name, confidence, holdout, model version, time); default output
        ``assigned-<file>.csv`` in the session folder."""

        def work() -> Path:
            from copilot.workflow import assign_to_file

            model = self.saved_model()
            target = self.output_path(out, self.session_dir / f"assigned-{Path(path).stem}.csv",
                                      path)
            done = assign_to_file(model, Path(path).expanduser(), target)
            counts = done.counts()
            self._emit("result", f"Assigned {len(done.frame):,} customers to {target}: "
                       + ", ".join(f"{name} {n:,}" for name, n in counts.items()) + "."
                       + "".join(f" {note}" for note in done.notes),
                       step="assign_new", path=str(target), rows=len(done.frame),
                       counts={str(k): int(v) for k, v in counts.items()})
            return target

        args = {"path": str(path), **({"out": str(out)} if out else {})}
        return self._step("assign_new", args, work, save=False)

    def check_drift(self, path: str | Path) -> DriftReport | None:
        """Compare a newer snapshot with the session's table through its saved model: who
        moved, PSI, centre shifts and a verdict; the report goes to ``drift.md``."""

        def work() -> DriftReport:
            from copilot.workflow import drift_report, write_drift_report

            model = self.saved_model()
            new = load_table(Path(path).expanduser()).frame
            key = model.info.id_column
            # No shared ID: the distribution checks against the model alone.
            old = self._frame() if key and key in new.columns else None
            report = drift_report(new, model, old=old, new_label=Path(path).name,
                                  old_label=self.data_name)
            target = write_drift_report(report, self.session_dir / "drift.md")
            self._emit("result", f"Drift verdict: {report.verdict.level}. "
                       f"{report.verdict.summary} " + " ".join(report.verdict.reasons[:3])
                       + f" The report is in {target}.",
                       step="check_drift", verdict=report.verdict.level, path=str(target))
            return report

        return self._step("check_drift", {"path": str(path)}, work, save=False)

    def export_crm(self, preset: str = "generic", path: str | Path | None = None) -> Path | None:
        """The session's customers as a CRM import file: ID, segment ID and name, confidence,
        holdout flag, model version, assigned-at; columns named for ``preset`` (generic,
        hubspot, salesforce). Default output ``crm-<preset>.csv`` in the session folder."""

        def work() -> Path:
            from copilot.segmentation import get_preset
            from copilot.workflow import write_crm

            get_preset(preset)  # an unknown preset is refused before any work
            frame = self._customers().frame
            out = self.output_path(path, self.session_dir / f"crm-{preset}.csv")
            done = write_crm(frame, out, preset)
            self._emit("result", f"Wrote {done.rows:,} customers for a {preset} import to {out} "
                       f"({done.held:,} flagged as the holdout group).", step="export_crm",
                       path=str(out), rows=done.rows, preset=preset)
            return out

        args = {"preset": preset, **({"path": str(path)} if path else {})}
        return self._step("export_crm", args, work, save=False)
    def write_glossary(self, folder: str | Path | None = None, *,
                       owners: dict[int, str] | None = None) -> Glossary | None:
        """Write the segment glossary (Markdown and JSON) as a new version beside the earlier
        ones in ``folder`` (default ``glossary/`` in the session folder), with what changed.
        ``owners`` sets segments' strategy owners (the others keep theirs)."""

        def work() -> Glossary:
            from copilot.workflow import definitions_of, plan_glossary, publish_glossary

            if self.analysis is None:
                raise InputError("There are no segments to describe yet; run the "
                                 "segmentation first.")
            out = self.output_path(folder, self.session_dir / "glossary")
            own = self._customers()
            # The same plan as export --glossary: names somebody gave (an engine placeholder,
            # "Segment 2", must not stop a continuing segment from keeping the glossary's name).
            plan = plan_glossary(self.analysis, out, names=own.names,
                                 definitions=definitions_of(self.writing), owners=owners or {},
                                 model_version=own.model_version,
                                 assignments=own.assignments if own.has_ids else None,
                                 option="/glossary", owner_option="/owner")
            glossary = publish_glossary(plan)
            if not plan.write:
                self._emit("result", f"The glossary in {out} is up to date (version "
                           f"{glossary.version}).", step="write_glossary", path=str(out))
                return glossary
            changes = "; ".join(c.text for c in glossary.changes[:4]) if glossary.changes else ""
            self._emit("result", f"Wrote glossary version {glossary.version} to {out}"
                       + (f": {changes}." if changes else "."), step="write_glossary",
                       path=str(out), version=glossary.version)
            return glossary

        args = {**({"folder": str(folder)} if folder else {}),
                **({"owners": dict(owners)} if owners else {})}
        return self._step("write_glossary", args, work, save=False)

    def _customers(self) -> OwnCustomers:
        """The session's own customers, read and checked the way ``export`` reads a folder
        (``copilot.workflow.folder_customers``): one reader for both."""
        from copilot.workflow import folder_customers, given_names

        if self.analysis is None:
            raise InputError("There are no segments to export yet; run the segmentation first.")
        own = folder_customers(self.folder, self.analysis, names=given_names(self.writing),
                               require_model=True)
        for note in own.notes:
            self.report_progress(note)
        return own
