"""Work sessions (issue 6): plan, run and learn from focused work.

``engine.work`` holds one part per noun: ``sessions`` (lifecycle), ``templates``,
``goals``, ``milestones``, ``blockers``, ``progress``, ``collaborators``, ``comments``,
``attachments``, ``search`` and ``insights``. Every call names the acting user, whose
role in the session (owner, collaborator, viewer) decides what they may do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sessionhub.core.work.attachments import AttachmentsPart
from sessionhub.core.work.collaborators import Collaborators
from sessionhub.core.work.comments import Comments
from sessionhub.core.work.goals import GoalsPart
from sessionhub.core.work.insights import Insights
from sessionhub.core.work.lifecycle import Lifecycle
from sessionhub.core.work.milestones import BlockersPart, MilestonesPart, ProgressPart
from sessionhub.core.work.search import Search
from sessionhub.core.work.templates import Templates

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine


class Work:
    """Every part of the work-session capability, over one engine."""

    def __init__(self, engine: Engine):
        self.templates = Templates(engine)
        self.sessions = Lifecycle(engine)
        self.goals = GoalsPart(engine)
        self.milestones = MilestonesPart(engine)
        self.blockers = BlockersPart(engine)
        self.progress = ProgressPart(engine)
        self.collaborators = Collaborators(engine)
        self.comments = Comments(engine)
        self.attachments = AttachmentsPart(engine)
        self.search = Search(engine)
        self.insights = Insights(engine)


__all__ = ["Work"]
