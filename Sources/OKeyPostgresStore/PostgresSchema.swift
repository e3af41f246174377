/// The PostgreSQL schema, as ordered migrations applied once each and recorded in `okey_migrations`.
/// Times are milliseconds since the epoch (as in the SQLite store), a request's whole state is its
/// JSON kept as text beside the columns queries filter on: byte for byte what the audit chain hashed.
enum PostgresSchema {
  /// The migrations, oldest first: an identifier and its statements.
  static let migrations: [(identifier: String, statements: [String])] = [
    (
      "pg1",
      [
        """
        CREATE TABLE renewals (
          id text PRIMARY KEY,
          agent_uid text NOT NULL,
          key_type text NOT NULL,
          status text NOT NULL,
          version bigint NOT NULL,
          n1_uid text,
          n2_uid text,
          routed boolean NOT NULL,
          is_open boolean NOT NULL,
          created_at bigint NOT NULL,
          updated_at bigint NOT NULL,
          state_json text NOT NULL
        )
        """,
        "CREATE UNIQUE INDEX renewals_one_open_per_agent ON renewals(agent_uid) WHERE is_open",
        "CREATE INDEX renewals_by_status ON renewals(status, created_at)",
        "CREATE INDEX renewals_by_n1 ON renewals(n1_uid, status)",
        "CREATE INDEX renewals_by_n2 ON renewals(n2_uid, status)",
        "CREATE INDEX renewals_by_created ON renewals(created_at, id)",
        """
        CREATE TABLE renewal_validators (
          renewal_id text NOT NULL REFERENCES renewals(id),
          uid text NOT NULL,
          PRIMARY KEY (renewal_id, uid)
        )
        """,
        "CREATE INDEX renewal_validators_by_uid ON renewal_validators(uid)",
        """
        CREATE TABLE documents (
          id text PRIMARY KEY,
          renewal_id text NOT NULL REFERENCES renewals(id),
          kind text NOT NULL,
          filename text NOT NULL,
          media_type text NOT NULL,
          size_bytes bigint NOT NULL,
          sha256 text NOT NULL,
          content bytea NOT NULL,
          added_at bigint NOT NULL,
          purged_at bigint
        )
        """,
        "CREATE INDEX documents_by_renewal ON documents(renewal_id)",
        """
        CREATE TABLE routing_snapshots (
          id bigserial PRIMARY KEY,
          renewal_id text NOT NULL REFERENCES renewals(id),
          reason text NOT NULL,
          taken_at bigint NOT NULL,
          routing_json text NOT NULL
        )
        """,
        """
        CREATE TABLE approvals (
          id bigserial PRIMARY KEY,
          renewal_id text NOT NULL REFERENCES renewals(id),
          approver_uid text NOT NULL,
          approved boolean NOT NULL,
          comment text NOT NULL,
          decided_at bigint NOT NULL
        )
        """,
        """
        CREATE TABLE audit_events (
          sequence bigint PRIMARY KEY,
          renewal_id text NOT NULL,
          at bigint NOT NULL,
          actor text NOT NULL,
          on_behalf_of text,
          role text NOT NULL,
          action text NOT NULL,
          from_status text,
          to_status text NOT NULL,
          details text NOT NULL,
          prev_hash text NOT NULL,
          hash text NOT NULL,
          state_hash text,
          mac text
        )
        """,
        "CREATE INDEX audit_events_by_renewal ON audit_events(renewal_id, sequence)",
        // One row: the chain's head. Every append locks it (FOR UPDATE): one chain across replicas.
        "CREATE TABLE audit_head (id integer PRIMARY KEY CHECK (id = 1), last_sequence bigint NOT NULL, last_hash text NOT NULL)",
        "INSERT INTO audit_head (id, last_sequence, last_hash) VALUES (1, 0, '\(String(repeating: "0", count: 64))')",
        // Nothing in this store predates the keyed chain: the legacy boundary is 0, signed at the first
        // start with a key.
        "CREATE TABLE audit_meta (id integer PRIMARY KEY CHECK (id = 1), legacy_until bigint NOT NULL, seal text)",
        "INSERT INTO audit_meta (id, legacy_until) VALUES (1, 0)",
        """
        CREATE TABLE idempotency_keys (
          agent_uid text NOT NULL,
          operation text NOT NULL,
          key text NOT NULL,
          renewal_id text NOT NULL,
          result_json text NOT NULL,
          fingerprint text NOT NULL,
          created_at bigint NOT NULL,
          PRIMARY KEY (agent_uid, operation, key)
        )
        """,
        "CREATE INDEX idempotency_keys_by_age ON idempotency_keys(created_at)",
        """
        CREATE TABLE charters (
          seq bigserial PRIMARY KEY,
          version text NOT NULL UNIQUE,
          text text NOT NULL,
          code text NOT NULL,
          published_at bigint NOT NULL
        )
        """,
        "CREATE TABLE pickup_places (id text PRIMARY KEY, name text NOT NULL, address text NOT NULL)",
        """
        CREATE TABLE pickup_slots (
          id text PRIMARY KEY,
          place_id text NOT NULL REFERENCES pickup_places(id),
          starts_at bigint NOT NULL,
          ends_at bigint NOT NULL,
          capacity bigint NOT NULL,
          booked bigint NOT NULL DEFAULT 0 CHECK (booked >= 0 AND booked <= capacity)
        )
        """,
        "CREATE INDEX pickup_slots_by_place ON pickup_slots(place_id, starts_at)",
        """
        CREATE TABLE appointments (
          renewal_id text PRIMARY KEY REFERENCES renewals(id),
          slot_id text NOT NULL REFERENCES pickup_slots(id),
          booked_at bigint NOT NULL
        )
        """,
        """
        CREATE TABLE keys (
          serial text PRIMARY KEY,
          agent_uid text NOT NULL,
          key_type text NOT NULL,
          status text NOT NULL,
          activated_at bigint NOT NULL,
          replaced_at bigint,
          renewal_id text
        )
        """,
        "CREATE INDEX keys_by_agent ON keys(agent_uid, status)",
        """
        CREATE TABLE outbox (
          id bigserial PRIMARY KEY,
          renewal_id text NOT NULL,
          kind text NOT NULL,
          recipient_uid text,
          recipient_mail text,
          recipient_name text,
          to_dsi_mailbox boolean NOT NULL,
          details text NOT NULL,
          state text NOT NULL DEFAULT 'PENDING',
          attempts bigint NOT NULL DEFAULT 0,
          last_error text,
          created_at bigint NOT NULL,
          next_attempt_at bigint NOT NULL,
          claimed_at bigint,
          sent_at bigint,
          message_id text NOT NULL
        )
        """,
        "CREATE INDEX outbox_due ON outbox(state, next_attempt_at)",
        "CREATE INDEX outbox_by_renewal ON outbox(renewal_id)",
        """
        CREATE TABLE sessions (
          token_hash text PRIMARY KEY,
          uid text NOT NULL,
          created_at bigint NOT NULL,
          expires_at bigint NOT NULL,
          dn text NOT NULL,
          display_name text NOT NULL,
          mail text NOT NULL,
          groups text NOT NULL
        )
        """,
        "CREATE INDEX sessions_by_expiry ON sessions(expires_at)",
        """
        CREATE TABLE enrolment_codes (
          renewal_id text PRIMARY KEY REFERENCES renewals(id),
          sealed bytea NOT NULL,
          expires_at bigint NOT NULL
        )
        """,
        "CREATE INDEX enrolment_codes_by_expiry ON enrolment_codes(expires_at)",
      ]
    ),
    (
      "pg2",
      [
        // Failed logins by person, shared by the replicas (a lockout through one holds on the others).
        "CREATE TABLE login_failures (person text PRIMARY KEY, failures bigint NOT NULL, last_at bigint NOT NULL)"
      ]
    ),
    (
      "pg3",
      [
        // Searches walk an index in their own order (created_at, id) and stop at the page.
        "CREATE INDEX renewals_by_agent ON renewals(agent_uid, created_at, id)",
        "DROP INDEX renewals_by_status",
        "CREATE INDEX renewals_by_status ON renewals(status, created_at, id)",
      ]
    ),
  ]

  /// The identifiers this code knows, oldest first.
  static var identifiers: [String] { migrations.map(\.identifier) }
}
