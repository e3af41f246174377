import GRDB

extension Database {
  /// Runs a statement compiled once per connection and kept: the hot paths of a change skip
  /// SQLite's parser and GRDB's authorizer. `sql` must be a constant (never built from input).
  func run(_ sql: String, _ arguments: StatementArguments = []) throws {
    try cachedStatement(sql: sql).execute(arguments: arguments)
  }

  /// The first row of a kept statement (see ``run(_:_:)``).
  func row(_ sql: String, _ arguments: StatementArguments = []) throws -> Row? {
    try Row.fetchOne(cachedStatement(sql: sql), arguments: arguments)
  }

  /// The first column of the first row of a kept statement (see ``run(_:_:)``).
  func value<Value: DatabaseValueConvertible & StatementColumnConvertible>(
    _ type: Value.Type, _ sql: String, _ arguments: StatementArguments = []
  ) throws -> Value? {
    try Value.fetchOne(cachedStatement(sql: sql), arguments: arguments)
  }
}
