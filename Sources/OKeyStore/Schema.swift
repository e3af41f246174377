import GRDB

/// The versioned schema. Shipped migrations are never edited: a change is a new migration.
enum Schema {
  /// Migration identifiers, oldest first.
  static let versions = [
    "v1-renewals-documents-audit", "v2-charter-pickup-keys", "v3-outbox-sessions", "v4-session-person",
    "v5-outbox-delivery", "v6-audit-seal", "v7-document-retention", "v8-idempotency-fingerprint",
    "v9-co-validators", "v10-enrolment-codes", "v11-search-indexes",
  ]

  static var migrator: DatabaseMigrator {
    var migrator = DatabaseMigrator()
    migrator.registerMigration(versions[0]) { db in
      try db.execute(
        sql: """
          CREATE TABLE renewals (
            id TEXT PRIMARY KEY NOT NULL,
            agent_uid TEXT NOT NULL,
            key_type TEXT NOT NULL,
            status TEXT NOT NULL,
            version INTEGER NOT NULL,
            n1_uid TEXT,
            n2_uid TEXT,
            routed INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            state_json TEXT NOT NULL
          );
          -- One open request per agent, enforced by the database as well as by the domain.
          CREATE UNIQUE INDEX renewals_one_open_per_agent ON renewals(agent_uid)
            WHERE status NOT IN ('COMPLETED', 'REJECTED', 'CANCELLED');
          CREATE INDEX renewals_by_status ON renewals(status, created_at);
          CREATE INDEX renewals_by_n1 ON renewals(n1_uid, status);
          CREATE INDEX renewals_by_n2 ON renewals(n2_uid, status);
          CREATE INDEX renewals_by_created ON renewals(created_at, id);

          CREATE TABLE documents (
            id TEXT PRIMARY KEY NOT NULL,
            renewal_id TEXT NOT NULL REFERENCES renewals(id),
            kind TEXT NOT NULL,
            filename TEXT NOT NULL,
            media_type TEXT NOT NULL,
            size_bytes INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            content BLOB NOT NULL,
            added_at INTEGER NOT NULL
          );
          CREATE INDEX documents_by_renewal ON documents(renewal_id);

          CREATE TABLE routing_snapshots (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            renewal_id TEXT NOT NULL REFERENCES renewals(id),
            reason TEXT NOT NULL,
            taken_at INTEGER NOT NULL,
            routing_json TEXT NOT NULL
          );
          CREATE INDEX routing_snapshots_by_renewal ON routing_snapshots(renewal_id);

          CREATE TABLE approvals (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            renewal_id TEXT NOT NULL REFERENCES renewals(id),
            approver_uid TEXT NOT NULL,
            approved INTEGER NOT NULL,
            comment TEXT NOT NULL,
            decided_at INTEGER NOT NULL
          );

          CREATE TABLE audit_events (
            sequence INTEGER PRIMARY KEY,
            renewal_id TEXT NOT NULL,
            at INTEGER NOT NULL,
            actor TEXT NOT NULL,
            on_behalf_of TEXT,
            role TEXT NOT NULL,
            action TEXT NOT NULL,
            from_status TEXT,
            to_status TEXT NOT NULL,
            details TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
          );
          CREATE INDEX audit_events_by_renewal ON audit_events(renewal_id, sequence);
          -- The head of the chain, so that removing the last events is detected too.
          CREATE TABLE audit_head (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            last_sequence INTEGER NOT NULL,
            last_hash TEXT NOT NULL
          );

          CREATE TABLE idempotency_keys (
            agent_uid TEXT NOT NULL,
            operation TEXT NOT NULL,
            key TEXT NOT NULL,
            renewal_id TEXT NOT NULL,
            result_json TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            PRIMARY KEY (agent_uid, operation, key)
          );
          """
      )
    }
    migrator.registerMigration(versions[1]) { db in
      try db.execute(
        sql: """
          CREATE TABLE charters (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            version TEXT NOT NULL UNIQUE,
            text TEXT NOT NULL,
            code TEXT NOT NULL,
            published_at INTEGER NOT NULL
          );
          CREATE TABLE pickup_places (
            id TEXT PRIMARY KEY NOT NULL,
            name TEXT NOT NULL,
            address TEXT NOT NULL
          );
          CREATE TABLE pickup_slots (
            id TEXT PRIMARY KEY NOT NULL,
            place_id TEXT NOT NULL REFERENCES pickup_places(id),
            starts_at INTEGER NOT NULL,
            ends_at INTEGER NOT NULL,
            capacity INTEGER NOT NULL CHECK (capacity > 0),
            booked INTEGER NOT NULL DEFAULT 0 CHECK (booked >= 0 AND booked <= capacity)
          );
          CREATE INDEX pickup_slots_by_place ON pickup_slots(place_id, starts_at);
          CREATE TABLE appointments (
            renewal_id TEXT PRIMARY KEY NOT NULL REFERENCES renewals(id),
            slot_id TEXT NOT NULL REFERENCES pickup_slots(id),
            booked_at INTEGER NOT NULL
          );
          CREATE TABLE keys (
            serial TEXT PRIMARY KEY NOT NULL,
            agent_uid TEXT NOT NULL,
            key_type TEXT NOT NULL,
            status TEXT NOT NULL,
            activated_at INTEGER NOT NULL,
            replaced_at INTEGER,
            renewal_id TEXT
          );
          CREATE INDEX keys_by_agent ON keys(agent_uid, status);
          """
      )
    }
    migrator.registerMigration(versions[2]) { db in
      try db.execute(
        sql: """
          CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            renewal_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            recipient_uid TEXT,
            recipient_mail TEXT,
            recipient_name TEXT,
            to_dsi_mailbox INTEGER NOT NULL DEFAULT 0,
            details TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            state TEXT NOT NULL DEFAULT 'PENDING',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at INTEGER NOT NULL,
            last_error TEXT,
            message_id TEXT NOT NULL
          );
          CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
          CREATE TABLE sessions (
            token_hash TEXT PRIMARY KEY NOT NULL,
            uid TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL
          );
          CREATE INDEX sessions_by_expiry ON sessions(expires_at);
          """
      )
    }
    migrator.registerMigration(versions[3]) { db in
      // Sessions remember who logged in and their groups, so that calls need no directory round trip.
      try db.execute(
        sql: """
          ALTER TABLE sessions ADD COLUMN dn TEXT NOT NULL DEFAULT '';
          ALTER TABLE sessions ADD COLUMN display_name TEXT NOT NULL DEFAULT '';
          ALTER TABLE sessions ADD COLUMN mail TEXT NOT NULL DEFAULT '';
          ALTER TABLE sessions ADD COLUMN groups TEXT NOT NULL DEFAULT '';
          """
      )
    }
    migrator.registerMigration(versions[4]) { db in
      try db.execute(
        sql: """
          ALTER TABLE outbox ADD COLUMN claimed_at INTEGER;
          ALTER TABLE outbox ADD COLUMN sent_at INTEGER;
          """
      )
    }
    migrator.registerMigration(versions[5]) { db in
      // Events from now on carry the hash of their request's stored state and an HMAC under the
      // audit key; the events already written are verified with the rule they were written with, up
      // to `legacy_until` (signed by okeyd at its first start with a key).
      try db.execute(
        sql: """
          ALTER TABLE audit_events ADD COLUMN state_hash TEXT;
          ALTER TABLE audit_events ADD COLUMN mac TEXT;
          CREATE TABLE audit_meta (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            legacy_until INTEGER NOT NULL,
            seal TEXT
          );
          INSERT INTO audit_meta (id, legacy_until) SELECT 1, COALESCE(MAX(sequence), 0) FROM audit_events;
          """
      )
    }
    migrator.registerMigration(versions[6]) { db in
      // Document content is deleted after the retention period (or at cancellation); the row keeps
      // its name, size and SHA-256.
      try db.execute(
        sql: """
          ALTER TABLE documents ADD COLUMN purged_at INTEGER;
          CREATE INDEX idempotency_keys_by_age ON idempotency_keys(created_at);
          """
      )
    }
    migrator.registerMigration(versions[7]) { db in
      // Every change may take an idempotency key: the digest of its call's arguments is kept beside
      // it, so that the key coming back with other arguments is refused rather than replayed.
      // Keys kept before have no digest and their old scopes: dropped (a retry straddling the upgrade
      // is then a new call, which the version check or the open-request rule refuses).
      try db.execute(
        sql:
          "DELETE FROM idempotency_keys; ALTER TABLE idempotency_keys ADD COLUMN fingerprint TEXT NOT NULL DEFAULT ''")
    }
    migrator.registerMigration(versions[8]) { db in
      // Who else may decide at the N+1 level (second-degree deputies): an index of the routing kept in
      // state_json, so that their pending lists find the request. Older requests have none.
      try db.execute(
        sql: """
          CREATE TABLE renewal_validators (
            renewal_id TEXT NOT NULL REFERENCES renewals(id) ON DELETE CASCADE,
            uid TEXT NOT NULL,
            PRIMARY KEY (renewal_id, uid)
          );
          CREATE INDEX renewal_validators_by_uid ON renewal_validators(uid);
          """
      )
    }
    migrator.registerMigration(versions[9]) { db in
      // The sealed provisioning payload of a software token (enrolment.mode: qr), until it is read
      // or expires: AES-GCM under enrolment.codeKeyFile, never in clear.
      try db.execute(
        sql: """
          CREATE TABLE enrolment_codes (
            renewal_id TEXT PRIMARY KEY NOT NULL REFERENCES renewals(id) ON DELETE CASCADE,
            sealed BLOB NOT NULL,
            expires_at INTEGER NOT NULL
          );
          CREATE INDEX enrolment_codes_by_expiry ON enrolment_codes(expires_at);
          """
      )
    }
    migrator.registerMigration(versions[10]) { db in
      // Searches walk an index in their own order (created_at, id) and stop at the page: an agent's
      // requests (MyRenewals, the phone-change limit) had none; a status's needed the id too.
      // SearchTests/queryPlans reads the plans.
      try db.execute(
        sql: """
          CREATE INDEX renewals_by_agent ON renewals(agent_uid, created_at, id);
          DROP INDEX renewals_by_status;
          CREATE INDEX renewals_by_status ON renewals(status, created_at, id);
          """
      )
    }
    return migrator
  }
}
