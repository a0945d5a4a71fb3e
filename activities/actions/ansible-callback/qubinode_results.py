# Qubinode results callback: writes every task result of an ansible-playbook run as JSON, the same
# record shape as an ansible-navigator playbook artifact's plays[].tasks[] entries, so one parser
# reads both. Used when ansible-navigator is absent. ansible.posix.json would do the same job, but
# it is a Galaxy collection and this project installs only from PyPI.
from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: qubinode_results
type: aggregate
short_description: write task results to $QUBINODE_ANSIBLE_RESULTS as JSON
description: Records each task result (host, task, action, result) for Qubinode Navigator.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "qubinode_results"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._path = os.environ.get("QUBINODE_ANSIBLE_RESULTS")
        self._plays = []

    def v2_playbook_on_play_start(self, play):
        self._plays.append({"name": play.get_name(), "tasks": []})

    def _record(self, result, outcome):
        if not self._plays:
            self._plays.append({"name": "", "tasks": []})
        task = result._task
        res = dict(result._result)
        if res.get("_ansible_no_log"):
            res = {"censored": "the output has been hidden due to no_log: true", "changed": res.get("changed", False)}
        self._plays[-1]["tasks"].append({
            "host": result._host.get_name(),
            "task": task.get_name(),
            "task_action": task.action,
            "__result": outcome,
            "__changed": bool(res.get("changed", False)),
            "res": res,
        })

    def v2_runner_on_ok(self, result):
        self._record(result, "Ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "Ignored" if ignore_errors else "Failed")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "Unreachable")

    def v2_runner_on_skipped(self, result):
        self._record(result, "Skipped")

    def v2_playbook_on_stats(self, stats):
        if not self._path:
            return
        with open(self._path, "w", encoding="utf-8") as handle:
            json.dump({"plays": self._plays}, handle, default=str)
