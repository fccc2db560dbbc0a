"""Prometheus view of the sync queue, read from the database at scrape time (workers run
in other processes, so counting in memory would show only this one)."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from switchboard.sync.models import JOB_STATES, SYNC_STATES, SyncJob, SyncStatus


class SyncCollector:
    def __init__(self, session_factory) -> None:
        self.session_factory = session_factory

    def collect(self):
        jobs = GaugeMetricFamily("switchboard_sync_jobs", "Sync jobs by state", labels=["state"])
        users = GaugeMetricFamily("switchboard_sync_users", "Users by sync state", labels=["state"])
        try:
            with self.session_factory() as session:
                job_counts = dict(session.execute(select(SyncJob.state, func.count()).group_by(SyncJob.state)).all())
                user_counts = dict(session.execute(select(SyncStatus.state, func.count())
                                                   .group_by(SyncStatus.state)).all())
        except Exception:  # a scrape must not fail because the database does; readyz says it
            return
        for state in JOB_STATES:
            jobs.add_metric([state], job_counts.get(state, 0))
        for state in SYNC_STATES:
            users.add_metric([state], user_counts.get(state, 0))
        yield jobs
        yield users
