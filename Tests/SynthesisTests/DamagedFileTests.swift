import Datasets
import Foundation
import Models
import Synthesis
import Tensor
import Testing

/// One file of the damaged-file corpus (tools/make_damaged_files.py, issue #19).
struct DamagedCase: CustomTestStringConvertible, Sendable {
    let file: String
    /// `checkpoint`, `imageset`, `idx` or `image`.
    let loader: String
    /// `"ok"`, or a substring the error message must contain.
    let expect: String
    var testDescription: String { file }
}

enum DamagedCorpus {
    static var directory: String? { Bundle.module.url(forResource: "Fixtures/damaged", withExtension: nil)?.path }

    /// The cases of manifest.json (empty if the folder is missing; `corpusIsPresent` fails then).
    static let cases: [DamagedCase] = {
        guard let dir = directory, let data = FileManager.default.contents(atPath: dir + "/manifest.json"),
              let list = try? JSONSerialization.jsonObject(with: data) as? [[String: String]] else { return [] }
        return list.compactMap { e in
            guard let f = e["file"], let l = e["loader"], let x = e["expect"] else { return nil }
            return DamagedCase(file: f, loader: l, expect: x)
        }
    }()

    /// Peak resident memory of this process so far, in bytes (Linux reports ru_maxrss in KiB).
    static func peakResidentBytes() -> Int {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return u.ru_maxrss * 1024
    }

    /// Loads `path` the way the runtime would for this kind of file; returns a one-line summary.
    static func load(_ c: DamagedCase, path: String) throws -> String {
        switch c.loader {
        case "checkpoint":
            let (model, _) = try ModelFactory.load(path: path)
            return "model with \(model.params.count) weights"
        case "imageset":
            let set = try ImageSet.load(path: path)
            // A synthesis cache entry is the same bytes read from memory under a cache name.
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            let cached = try ImageSet.load(data: data, file: "cache \(c.file)")
            #expect(cached.labels == set.labels)
            _ = set.denormalized()  // indexes mean/std per channel: must not trap on a loaded set
            return "image set of \(set.count)"
        case "idx":
            let a = try IDXArray(path: path)
            return "IDX \(a.shape)"
        case "image":
            // Through ImageFolder, as evaluation reads images: decode, eval resize, crop.
            let root = NSTemporaryDirectory() + "/sardfq-damaged-" + ProcessInfo.processInfo.globallyUniqueString
            defer { try? FileManager.default.removeItem(atPath: root) }
            try FileManager.default.createDirectory(atPath: root + "/c", withIntermediateDirectories: true)
            let ext = (c.file as NSString).pathExtension
            let copy = root + "/c/" + c.file + (ext == "jpg" || ext == "png" ? "" : ".png")
            try FileManager.default.copyItem(atPath: path, toPath: copy)
            let ds = try ImageFolder(root: root).load([0])
            return "image \(ds.images.shape)"
        default:
            Issue.record("unknown loader \(c.loader) for \(c.file)")
            return ""
        }
    }
}

@Suite struct DamagedFileTests {
    /// Growth of the peak resident memory allowed while one file loads. The bombs of issue #19 took
    /// 4–24 GB; every file here loads, or fails, within a few MiB.
    static let memoryBound = 512 << 20

    @Test func corpusIsPresent() throws {
        #expect(DamagedCorpus.directory != nil, "Fixtures/damaged missing from the test bundle (run tools/make_damaged_files.py)")
        #expect(DamagedCorpus.cases.count >= 60)
        for loader in ["checkpoint", "imageset", "idx", "image"] {
            #expect(DamagedCorpus.cases.contains { $0.loader == loader && $0.expect == "ok" }, "no good \(loader) file in the corpus")
            #expect(DamagedCorpus.cases.contains { $0.loader == loader && $0.expect != "ok" }, "no damaged \(loader) file in the corpus")
        }
    }

    /// Every file either loads correctly or fails with a message naming the file (and what is
    /// wrong, as the manifest states); nothing traps, and memory stays under `memoryBound`.
    @Test(arguments: DamagedCorpus.cases)
    func loadsOrFailsClearly(_ c: DamagedCase) throws {
        let dir = try #require(DamagedCorpus.directory)
        let path = dir + "/" + c.file
        let before = DamagedCorpus.peakResidentBytes()
        do {
            let summary = try DamagedCorpus.load(c, path: path)
            #expect(c.expect == "ok", "\(c.file) loaded (\(summary)) but should fail with '\(c.expect)'")
        } catch {
            let message = "\(error)"
            #expect(c.expect != "ok", "\(c.file) should load: \(message)")
            #expect(message.contains(c.file), "the error does not name the file: \(message)")
            #expect(c.expect == "ok" || message.contains(c.expect), "\(c.file): expected '\(c.expect)' in: \(message)")
        }
        let grown = DamagedCorpus.peakResidentBytes() - before
        #expect(grown < Self.memoryBound, "\(c.file): peak memory grew by \(grown >> 20) MiB")
    }
}
