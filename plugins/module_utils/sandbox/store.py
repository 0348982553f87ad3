# -*- coding: utf-8 -*-
# Copyright (c) m365.mailflow contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The object store of the sandbox tenant on one SQLite connection (with its replication delay), and result
paging (ResultSize) and the service's warnings shared by the object families."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import time

from ansible_collections.m365.mailflow.plugins.module_utils.sandbox.binding import not_found, transformation


# --------------------------------------------------------------------------- store

class Store(object):
    """Objects of one tenant on an open SQLite connection (inside the caller's transaction).

    Replication lag (setting ``replication_lag``, seconds; 0, the default, means none): Exchange Online replicates
    changes with a delay (a Get 6 s after New answered 404; "outbound connector changes may take time to
    replicate": live_evidence.md). With a lag, an object is invisible for that long after it was created to every
    lookup by identity and every list (Get, Set, Remove, Validate, a rule routing to it), though its name is taken;
    and a rule removed or routed elsewhere still counts for that long as a reference of the connector it routed to.
    """

    def __init__(self, conn, tenant_domain, tenant_id, settings):
        self.conn = conn
        self.tenant_domain = tenant_domain
        self.tenant_id = tenant_id
        self.settings = settings
        self.warnings = []
        self.lag = float(settings.get("replication_lag") or 0.0)
        self.now = time.time()
        self._pending = {}

    def all(self, kind):
        rows = self.conn.execute("SELECT data FROM objects WHERE kind = ?", (kind,)).fetchall()
        return [json.loads(row[0]) for row in rows]

    # ---- replication lag
    def pending(self, kind):
        """Guids of the ``kind`` objects that replication does not show yet."""
        if self.lag <= 0:
            return frozenset()
        if kind not in self._pending:
            rows = self.conn.execute("SELECT guid FROM replication WHERE kind = ? AND event = 'created' AND until > ?",
                                     (kind, self.now)).fetchall()
            self._pending[kind] = frozenset(row[0] for row in rows)
        return self._pending[kind]

    def visible(self, kind, objects):
        hidden = self.pending(kind)
        return [obj for obj in objects if obj["Guid"] not in hidden] if hidden else list(objects)

    def note_created(self, kind, obj):
        if self.lag > 0:
            self.conn.execute("DELETE FROM replication WHERE until <= ?", (self.now,))
            self.conn.execute("INSERT INTO replication (kind, guid, event, name, target, until) VALUES (?, ?, 'created', ?, "
                              "NULL, ?)", (kind, obj["Guid"], obj["Name"], self.now + self.lag))

    def note_unreferenced(self, kind, obj, target):
        """``obj`` stopped referring to ``target`` (a connector name): it still counts as a reference for a while."""
        if self.lag > 0 and target:
            self.conn.execute("INSERT INTO replication (kind, guid, event, name, target, until) VALUES (?, ?, "
                              "'unreferenced', ?, ?, ?)", (kind, obj["Guid"], obj["Name"], target.lower(), self.now + self.lag))

    def stale_references(self, kind, target):
        """Names of ``kind`` objects that stopped referring to ``target`` less than the lag ago."""
        if self.lag <= 0:
            return []
        rows = self.conn.execute("SELECT name FROM replication WHERE kind = ? AND event = 'unreferenced' AND target = ? "
                                 "AND until > ?", (kind, target.lower(), self.now)).fetchall()
        return [row[0] for row in rows]

    def find(self, kind, identity, candidates=None):
        """Match Name, Guid or DistinguishedName case-insensitively (objects replication does not show yet: never)."""
        wanted = str(identity).strip().lower()
        hidden = self.pending(kind)
        for obj in self.all(kind) if candidates is None else candidates:
            if obj["Guid"] in hidden:
                continue
            if wanted in (obj["Name"].lower(), obj["Guid"].lower(), obj.get("DistinguishedName", "").lower()):
                return obj
        return None

    def get(self, kind, identity):
        obj = self.find(kind, identity)
        if obj is None:
            not_found(identity)
        return obj

    def name_taken(self, kind, name, guid=None):
        row = self.conn.execute("SELECT guid FROM objects WHERE kind = ? AND name_lc = ?", (kind, name.lower())).fetchone()
        return row is not None and row[0] != guid

    def save(self, kind, obj):
        row = (obj["Name"].lower(), json.dumps(obj), obj["Guid"], kind)
        if not self.conn.execute("UPDATE objects SET name_lc = ?, data = ? WHERE guid = ? AND kind = ?", row).rowcount:
            self.conn.execute("INSERT INTO objects (name_lc, data, guid, kind) VALUES (?, ?, ?, ?)", row)

    def delete(self, kind, obj):
        self.conn.execute("DELETE FROM objects WHERE kind = ? AND guid = ?", (kind, obj["Guid"]))

    def accepted_domains(self):
        return [(row[0], row[1]) for row in self.conn.execute("SELECT domain, domain_type FROM accepted_domains ORDER BY domain")]

    def warn(self, text):
        self.warnings.append(text)


# --------------------------------------------------------------------------- helpers shared by the object families

PAGINATION_WARNING = ("There are more results available than are currently displayed. "
                      "To view them, increase the value for the ResultSize parameter.")


def limit_results(store, objects, bound):
    """Apply ResultSize (default 1000, or Unlimited) and warn like the service when results were cut."""
    size = bound.get("ResultSize")
    if size is None:
        limit = 1000
    elif str(size).strip().lower() == "unlimited":
        return objects
    else:
        try:
            limit = int(str(size).strip())
        except ValueError:
            transformation("ResultSize", size, "Microsoft.Exchange.Data.Unlimited`1[System.UInt32]",
                           "The value must be a positive number or 'Unlimited'.")
        if limit <= 0:
            transformation("ResultSize", size, "Microsoft.Exchange.Data.Unlimited`1[System.UInt32]",
                           "The value must be a positive number or 'Unlimited'.")
    if len(objects) > limit:
        store.warn(PAGINATION_WARNING)
        return objects[:limit]
    return objects


def unchanged_warning(identity):
    return "The command completed successfully but no settings of '%s' have been modified." % identity
