import Foundation
import OKeyServer
import OKeyTestSupport
import Testing

/// The Python virtual environment that Tools/test creates with grpcio from PyPI.
let pythonInterpreter = TestPaths.packageRoot + "/.venv/bin/python"

@Suite("interoperability with another gRPC stack")
struct InteropTests {
  @Test(
    "Python grpcio lists okey.v1 through reflection and gets SERVING from health",
    .enabled(
      if: FileManager.default.isExecutableFile(atPath: pythonInterpreter),
      "needs .venv with grpcio: run Tools/test (it creates it)"
    )
  )
  func python() async throws {
    try await withOKeyDaemon { _, address in
      let result = try await ChildProcess.run(
        pythonInterpreter,
        [TestPaths.packageRoot + "/Tests/Interop/okey_interop.py", "\(address)"],
        timeout: .seconds(60)
      )
      #expect(result.status == 0, "\(result.output)\n\(result.error)")
      #expect(result.output.contains("interop passed"))
    }
  }
}
