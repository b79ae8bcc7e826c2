import Foundation
import Testing
@testable import Tensor

/// Issue #19 item 11: a broadcast or product whose output exceeds `Tensor.maxBytes` is refused
/// with its shape and byte size, before anything is allocated.
@Suite struct TensorBoundsTests {
    static func message(_ body: () throws -> Void) -> String {
        do { try body(); return "no error" } catch { return "\(error)" }
    }

    @Test func boundIsAtMost4GiBAndAQuarterOfMemory() {
        #expect(Tensor.maxBytes <= 1 << 32)
        #expect(UInt64(Tensor.maxBytes) <= max(ProcessInfo.processInfo.physicalMemory / 4, 1 << 20))
    }

    @Test func broadcastBombIsRefusedBeforeAllocating() throws {
        // The reshape(ones([32768]), [32768, 1]) * ones([65536]): 2^31 elements, 8 GiB.
        let a = try Tensor.ones([32768]).reshape([32768, 1]), b = Tensor.ones([65536])
        let m = Self.message { _ = try a * b }
        #expect(m.contains("(32768, 65536)") && m.contains("8.0 GiB") && m.contains("limit"), "\(m)")
        #expect(Self.message { _ = try a + b }.contains("8.0 GiB"))
        #expect(try (a * Tensor.ones([4])).shape == [32768, 4], "ordinary broadcasts still work")
    }

    @Test func outerProductBombIsRefused() throws {
        let a = Tensor.ones([65536, 1]), b = Tensor.ones([1, 65536])
        let m = Self.message { _ = try a.matmul(b) }
        #expect(m.contains("matmul") && m.contains("(65536, 65536)") && m.contains("16.0 GiB"), "\(m)")
    }

    @Test func checkAllocationHandlesOverflowAndNegativeSizes() {
        #expect(Self.message { try Tensor.checkAllocation([1 << 40, 1 << 40], op: "zeros") }.contains("(1099511627776, 1099511627776)"))
        #expect(Self.message { try Tensor.checkAllocation([3, -1], op: "zeros") }.contains("negative"))
        #expect((try? Tensor.checkAllocation([2, 3, 4], op: "zeros")) == 24)
        #expect((try? Tensor.checkAllocation([], op: "zeros")) == 1)
    }
}
