import CReadline
import Foundation
import Script

/// Command-line entry: `sardfq` (REPL), `run`, `check`, `doc`, `bench`, `--version`.
public enum CLI {
    public static let usage = """
    usage: sardfq                       interactive REPL
           sardfq run FILE [--set name=value]… [--quick] [--fresh] [--out DIR]
           sardfq check FILE…           parse and resolve names without running
           sardfq doc [name]            language reference (Markdown) or one builtin's help
           sardfq bench …               kernel and model benchmarks
           sardfq report [--check]      write docs/results.md from its template and plots/ (--check: only compare)
           sardfq kernel install [--prefix DIR]   register the Jupyter kernel (kernel -f FILE runs it)
           sardfq notebook FILE [-o OUT.ipynb] [--set name=value]… [--quick]   a recipe as a notebook
           sardfq --version
    """

    /// Starts `thread`, the one that runs commands, with SIGINT blocked (it and every thread it
    /// starts inherit that: the worker pool, the GEMM libraries' threads), and unblocks SIGINT on
    /// the caller, which only waits. Why: Linux gives a process's SIGINT to any thread that does
    /// not block it, and oneDNN's JIT sgemm kernels point `rsp` into the heap while they run, so a
    /// signal handled on a thread inside one writes its frame over heap memory (oneDNN issue
    /// #4845; Debian's libdnnl predates the fix). Ctrl-C reaches the command through
    /// `Interrupt.flag`, which the handler sets on this waiting thread.
    public static func start(commandThread thread: Thread) {
        crl_block_sigint(1)
        thread.start()
        crl_block_sigint(0)
    }

    /// Runs the command in `args` (without the program name) and returns the exit status:
    /// 0 success, 1 error in the recipe, 2 bad command line.
    public static func main(_ args: [String]) -> Int32 {
        guard let cmd = args.first else { return REPL().run() }
        let rest = Array(args.dropFirst())
        do {
            switch cmd {
            case "run": return try run(rest)
            case "check": return try check(rest)
            case "doc": return doc(rest)
            case "bench":
                try runBench(rest)
                return 0
            case "report": return try report(rest)
            case "kernel": return try kernel(rest)
            case "notebook": return try notebook(rest)
            case "repl": return REPL().run()
            case "--version", "version", "-V":
                print("sardfq \(Version.string)")
                return 0
            case "--help", "-h", "help":
                print(usage)
                return 0
            default:
                throw UsageError("unknown command '\(cmd)'")
            }
        } catch let e as UsageError {
            Console.write(2, Data("sardfq: \(e.message)\n\(usage)\n".utf8))
            return 2
        } catch {
            Console.write(2, Data("sardfq: \(error)\n".utf8))
            return 1
        }
    }

    /// `sardfq report [--check]`, run in the package root: writes docs/results.md, or with
    /// `--check` exits 1 when the committed page differs from what the template and plots/ give.
    static func report(_ args: [String]) throws -> Int32 {
        guard args.allSatisfy({ $0 == "--check" }) else { throw UsageError("report takes only --check") }
        let root = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        let page: String
        do { page = try Report.generate(root: root) } catch let f as Report.Failure {
            Console.write(2, Data("sardfq: \(f)\n".utf8))
            return 1
        }
        let target = root.appendingPathComponent("docs/results.md")
        if args.contains("--check") {
            guard (try? String(contentsOf: target, encoding: .utf8)) == page else {
                Console.write(2, Data("sardfq: docs/results.md is stale: run `sardfq report`\n".utf8))
                return 1
            }
            print("docs/results.md is current")
            return 0
        }
        try Data(page.utf8).write(to: target, options: .atomic)
        print("wrote docs/results.md")
        return 0
    }

    struct UsageError: Error {
        let message: String
        init(_ m: String) { message = m }
    }

    /// Options of `sardfq run`.
    public struct RunOptions {
        public var file = ""
        public var overrides: [String: String] = [:]
        public var quick = false
        public var fresh = false
        public var outDir: String?
    }

    static func parseRunOptions(_ args: [String]) throws -> RunOptions {
        var o = RunOptions()
        var i = 0
        func value(_ flag: String) throws -> String {
            i += 1
            guard i < args.count else { throw UsageError("\(flag) needs a value") }
            return args[i]
        }
        while i < args.count {
            let a = args[i]
            switch a {
            case "--quick": o.quick = true
            case "--fresh": o.fresh = true
            case "--out": o.outDir = try value(a)
            case "--set":
                let kv = try value(a)
                guard let eq = kv.firstIndex(of: "="), eq != kv.startIndex else { throw UsageError("--set needs name=value, got '\(kv)'") }
                o.overrides[String(kv[..<eq])] = String(kv[kv.index(after: eq)...])
            default:
                if a.hasPrefix("--set=") {
                    let kv = String(a.dropFirst(6))
                    guard let eq = kv.firstIndex(of: "="), eq != kv.startIndex else { throw UsageError("--set needs name=value, got '\(kv)'") }
                    o.overrides[String(kv[..<eq])] = String(kv[kv.index(after: eq)...])
                } else if a.hasPrefix("-") {
                    throw UsageError("unknown option '\(a)'")
                } else if o.file.isEmpty {
                    o.file = a
                } else {
                    throw UsageError("only one recipe file, got '\(o.file)' and '\(a)'")
                }
            }
            i += 1
        }
        guard !o.file.isEmpty else { throw UsageError("run needs a recipe file") }
        return o
    }

    static func readSource(_ path: String) throws -> SourceFile {
        try SourceFile.read(path: path)
    }

    static func eprint(_ s: String) { Console.write(2, Data((s + "\n").utf8)) }

    /// `sardfq run`: parse (all syntax errors at once), run, report the first runtime error with its
    /// call chain. Files already written stay written.
    static func run(_ args: [String]) throws -> Int32 {
        let o = try parseRunOptions(args)
        let file: SourceFile
        do { file = try readSource(o.file) } catch {
            eprint("\(error)")
            return 1
        }
        let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        let out = o.outDir.map { $0.hasPrefix("/") ? URL(fileURLWithPath: $0) : cwd.appendingPathComponent($0) } ?? cwd
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: out.path, isDirectory: &isDir), !isDir.boolValue {
            throw UsageError("--out '\(o.outDir ?? out.path)' is a file, not a folder")
        }
        let ctx = RunContext(overrides: o.overrides, quick: o.quick, fresh: o.fresh, outputDirectory: out, recipePath: o.file)
        Cache.shared.ignoreExisting = o.fresh
        crl_install_sigint(Interrupt.flag)
        let program: Program
        do { program = try Parser.parse(file) } catch {
            eprint("\(error)")
            return 1
        }
        // The run's notebook: prints, outputs and progress summaries, section by section.
        let notebook = RunNotebook(file: file, program: program)
        ctx.wroteOutput = { notebook.record(.wrote($0)) }
        let interp = Interpreter(context: ctx, output: { text in
            Console.write(1, Data(text.utf8))
            notebook.record(.printed(text))
        })
        interp.onTopLevelStatement = { notebook.enter(line: $0.pos.line) }
        ctx.installRuntimeServices(summary: { notebook.record(.progress($0)) })
        var status: Int32 = 0
        do {
            try interp.run(program)
        } catch {
            eprint("\(error)")
            notebook.record(.failed("\(error)"))
            status = 1
        }
        notebook.finish()
        do {
            let page = try NotebookPage.write(notebook, context: ctx, failed: status != 0)
            eprint("notebook: \(page.path.hasPrefix(cwd.path + "/") ? String(page.path.dropFirst(cwd.path.count + 1)) : page.path)")
        } catch {
            eprint("sardfq: the notebook was not written: \(error)")
            status = 1
        }
        let cache = Cache.shared
        if cache.hits + cache.misses > 0 {
            eprint("cache: \(cache.hits) reused, \(cache.misses) computed (\(cache.directory.path)\(o.fresh ? ", --fresh" : ""))")
        }
        let used = Set(ctx.parametersUsed.map(\.0))
        for name in o.overrides.keys.sorted() where !used.contains(name) {
            eprint("warning: --set \(name)=… was given but the recipe never reads param(\"\(name)\")")
        }
        return status
    }

    /// `sardfq check`: syntax errors, then unknown names and bad literal arguments.
    static func check(_ args: [String]) throws -> Int32 {
        guard !args.isEmpty else { throw UsageError("check needs a recipe file") }
        var status: Int32 = 0
        for path in args {
            do {
                let problems = Resolver.check(source: try readSource(path))
                for d in problems { eprint(d.description) }
                if !problems.isEmpty { status = 1 }
            } catch {
                eprint("\(error)")
                status = 1
            }
        }
        return status
    }

    /// `sardfq doc` prints the reference page; `sardfq doc name` one builtin's help.
    static func doc(_ args: [String]) -> Int32 {
        if let name = args.first {
            guard Builtins.lookup(name) != nil else {
                eprint(Builtins.helpText(for: .string(name)))
                return 1
            }
            print(Builtins.helpText(for: .string(name)))
            return 0
        }
        print(Docs.markdown(), terminator: "")
        return 0
    }
}
