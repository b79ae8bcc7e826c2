import Foundation
import Tensor

extension Builtins {
    static func installRuntime() { register(area: "runtime", RuntimeArea.builtins) }

    /// The runtime area's builtins.
    enum RuntimeArea {
        /// The table: one line per builtin naming its spec and function (below, in this order).
        static var builtins: [Builtin] { [
            Builtin("print", printSpec, print),
            Builtin("len", lenSpec, len),
            Builtin("range", rangeSpec, range),
            Builtin("param", paramSpec, param),
            Builtin("quick", quickSpec, quick),
            Builtin("help", helpSpec, help),
            Builtin("type", typeSpec, type),
            Builtin("str", strSpec, str),
            Builtin("num", numSpec, num),
            Builtin("int", intSpec, int),
            Builtin("round", roundSpec, round),
            Builtin("min", minSpec, min),
            Builtin("append", appendSpec, append),
            Builtin("keys", keysSpec, keys),
            Builtin("map", mapSpec, map),
            Builtin("filter", filterSpec, filter),
            Builtin("enumerate", enumerateSpec, enumerate),
            Builtin("sort", sortSpec, sort),
            Builtin("join", joinSpec, join),
            Builtin("split", splitSpec, split),
            Builtin("assert", assertSpec, assert),
            Builtin("error", errorSpec, error),
            Builtin("clock", clockSpec, clock),
            Builtin("exists", existsSpec, exists),
            Builtin("table", tableSpec, table),
            Builtin("save", saveSpec, save),
            Builtin("load", loadSpec, load),
        ] }

        static var printSpec: BuiltinSpec {
            BuiltinSpec(summary: "Prints values separated by spaces (strings without quotes).",
                        help: "Tables and other objects print in full; tensors print their shape, type and first values.",
                        example: "print(\"acc\", 0.5, [1, 2])\n# expect: acc 0.5 [1, 2]",
                        params: [Param("values", variadic: true), Param("sep", .string, default: .string(" "))])
        }
        static func print(_ a: Args) throws -> Value {
            a.interpreter.output(a.rest.map(\.display).joined(separator: try a.string("sep")) + "\n")
            return .nothing
        }

        static var lenSpec: BuiltinSpec {
            BuiltinSpec(summary: "Number of items of a list, string, record, table or first axis of a tensor.",
                        example: "print(len([1, 2, 3]), len(\"abc\"))\n# expect: 3 3", params: [Param("x")])
        }
        static func len(_ a: Args) throws -> Value {
            switch try a.value("x") {
            case .list(let l): return .int(l.items.count)
            case .string(let s): return .int(s.count)
            case .record(let r): return .int(r.keys.count)
            case .tensor(let t): return .int(t.rank == 0 ? 1 : t.shape[0])
            case .object(let o as Table): return .int(o.rows.count)
            case .object(let o as ScriptSequence): return .int(o.items.count)
            case let v: throw a.bad("x", "list, string, record, table or tensor expected, got \(v.brief)")
            }
        }

        static var rangeSpec: BuiltinSpec {
            BuiltinSpec(summary: "The integers start, start+step, … below end (like Python).",
                        help: "`range(n)` is 0…n-1; `range(a, b)` is a…b-1; a negative step counts down.",
                        example: "print(range(4), range(1, 7, 2), range(3, 0, -1))\n# expect: [0, 1, 2, 3] [1, 3, 5] [3, 2, 1]",
                        params: [Param("start", .integer()), Param("end", .optional(.integer()), default: .nothing),
                                 Param("step", .integer(), default: .int(1))])
        }
        static func range(_ a: Args) throws -> Value {
            var s = try a.int("start")
            var e = 0
            if a.isNone("end") { e = s; s = 0 } else { e = try a.int("end") }
            let st = try a.int("step")
            guard st != 0 else { throw a.bad("step", "must not be 0") }
            let n = st > 0 ? max(0, (e - s + st - 1) / st) : max(0, (s - e - st - 1) / -st)
            guard n <= 10_000_000 else { throw a.bad("end", "range of \(n) numbers is too long (at most 10 million)") }
            return .list(Array(stride(from: s, to: e, by: st)).map { .int($0) })
        }

        static var paramSpec: BuiltinSpec {
            BuiltinSpec(summary: "A recipe parameter: the `--set name=value` given on the command line, else the default.",
                        help: "The value given with `--set` is converted to the type of the default (number, bool, string, or a list written in the language, e.g. `--set bits=[4,6]`). Parameters read are recorded in every provenance sidecar.",
                        example: "let iters = param(\"iters\", 100)\nprint(iters)\n# expect: 100",
                        params: [Param("name", .string, help: "the NAME of --set NAME=value"),
                                 Param("default", help: "used without --set; its type converts the --set text")])
        }
        static func param(_ a: Args) throws -> Value {
            let name = try a.string("name")
            let dflt = try a.value("default")
            var v = dflt
            if let text = a.interpreter.context.overrides[name] {
                v = try parseParam(text, like: dflt, name: name)
            }
            let ctx = a.interpreter.context
            ctx.parametersUsed.removeAll { $0.0 == name }
            ctx.parametersUsed.append((name, v))
            return v
        }

        static var quickSpec: BuiltinSpec {
            BuiltinSpec(summary: "True when the run uses the small `--quick` profile (tests, CI).",
                        example: "if quick() { print(\"small run\") } else { print(\"full run\") }\n# expect: full run", params: [])
        }
        static func quick(_ a: Args) throws -> Value {
            .bool(a.interpreter.context.quick)
        }

        static var helpSpec: BuiltinSpec {
            BuiltinSpec(summary: "Help for a builtin (by value or name) or, without argument, the list of builtins.",
                        example: "help(\"len\")", params: [Param("name", default: .nothing)])
        }
        static func help(_ a: Args) throws -> Value {
            a.interpreter.output(helpText(for: try a.value("name")) + "\n")
            return .nothing
        }

        static var typeSpec: BuiltinSpec {
            BuiltinSpec(summary: "The type name of a value: number, string, bool, list, record, tensor, function, none, or an object type.",
                        example: "print(type(1), type(\"a\"), type([1]))\n# expect: number string list",
                        params: [Param("x")])
        }
        static func type(_ a: Args) throws -> Value { .string(try a.value("x").typeName) }

        static var strSpec: BuiltinSpec {
            BuiltinSpec(summary: "The text of a value (what `print` writes).",
                        example: "print(str(1.5) + \"!\")\n# expect: 1.5!", params: [Param("x")])
        }
        static func str(_ a: Args) throws -> Value {
            .string(try a.value("x").display)
        }

        static var numSpec: BuiltinSpec {
            BuiltinSpec(summary: "A number from a string, bool, number or one-element tensor.",
                        example: "print(num(\"2.5\") * 2)\n# expect: 5", params: [Param("x")])
        }
        static func num(_ a: Args) throws -> Value {
            switch try a.value("x") {
            case .number(let n): return .number(n)
            case .bool(let b): return .number(b ? 1 : 0)
            case .string(let s):
                guard let n = Double(s.trimmingCharacters(in: .whitespaces)) else { throw a.bad("x", "\"\(s)\" is not a number") }
                return .number(n)
            case .tensor(let t) where t.count == 1: return .number(Double(t.ptr[0]))
            case let v: throw a.bad("x", "string, bool, number or one-element tensor expected, got \(v.brief)")
            }
        }

        static var intSpec: BuiltinSpec {
            BuiltinSpec(summary: "Truncates a number toward zero.",
                        example: "print(int(3.7), int(-3.7))\n# expect: 3 -3", params: [Param("x", .number)])
        }
        static func int(_ a: Args) throws -> Value {
            let x = try a.number("x")
            guard x.isFinite else { throw a.bad("x", "finite number expected, got \(x)") }
            return .number(x.rounded(.towardZero))
        }

        static var roundSpec: BuiltinSpec {
            BuiltinSpec(summary: "Rounds a number to `digits` decimals.",
                        example: "print(round(3.14159, digits: 2))\n# expect: 3.14",
                        params: [Param("x", .number), Param("digits", .integer(0...15), default: .int(0))])
        }
        static func round(_ a: Args) throws -> Value {
            .number(try a.number("x").rounded(toPlaces: try a.int("digits")))
        }

        static var minSpec: BuiltinSpec {
            BuiltinSpec(summary: "The smallest number of a list (or of the arguments).",
                        example: "print(min([3, 1, 2]), min(4, 5))\n# expect: 1 4", params: [Param("values", variadic: true)])
        }
        static func min(_ a: Args) throws -> Value {
            try numberExtremum(a, smallest: true)
        }

        static var appendSpec: BuiltinSpec {
            BuiltinSpec(summary: "Appends a value to a list in place.",
                        example: "let xs = [1]\nxs.append(2)\nprint(xs)\n# expect: [1, 2]",
                        params: [Param("list", .list), Param("value")])
        }
        static func append(_ a: Args) throws -> Value {
            guard case .list(let l) = try a.value("list") else { return .nothing }
            l.items.append(try a.value("value"))
            return .nothing
        }

        static var keysSpec: BuiltinSpec {
            BuiltinSpec(summary: "The field names of a record, in order.",
                        example: "print(keys({a: 1, b: 2}))\n# expect: [\"a\", \"b\"]", params: [Param("record", .record)])
        }
        static func keys(_ a: Args) throws -> Value {
            guard case .record(let r) = try a.value("record") else { return .nothing }
            return .list(r.keys.map { .string($0) })
        }

        static var mapSpec: BuiltinSpec {
            BuiltinSpec(summary: "A new list with `f` applied to every item.",
                        example: "print(map([1, 2, 3], fn(x) { return x * x }))\n# expect: [1, 4, 9]",
                        params: [Param("list", .list), Param("f", .function)])
        }
        static func map(_ a: Args) throws -> Value {
            let f = try a.value("f")
            return .list(try a.list("list").map { try a.call(f, [$0]) })
        }

        static var filterSpec: BuiltinSpec {
            BuiltinSpec(summary: "The items of a list for which `f` returns true.",
                        example: "print(filter(range(6), fn(x) { return x % 2 == 0 }))\n# expect: [0, 2, 4]",
                        params: [Param("list", .list), Param("f", .function)])
        }
        static func filter(_ a: Args) throws -> Value {
            let f = try a.value("f")
            return .list(try a.list("list").filter { try a.call(f, [$0]).isTruthy })
        }

        static var enumerateSpec: BuiltinSpec {
            BuiltinSpec(summary: "Pairs `[index, item]` for a list, for `for p in enumerate(xs)`.",
                        example: "for p in enumerate([\"a\", \"b\"]) { print(p[0], p[1]) }\n# expect: 0 a\n# expect: 1 b",
                        params: [Param("list", .list)])
        }
        static func enumerate(_ a: Args) throws -> Value {
            .list(try a.list("list").enumerated().map { .list([.int($0.offset), $0.element]) })
        }

        static var sortSpec: BuiltinSpec {
            BuiltinSpec(summary: "A sorted copy of a list of numbers or strings; `key` maps items to what is compared.",
                        example: "print(sort([3, 1, 2]), sort([\"b\", \"a\"]))\n# expect: [1, 2, 3] [\"a\", \"b\"]",
                        params: [Param("list", .list), Param("key", .optional(.function), default: .nothing),
                                 Param("reverse", .bool, default: .bool(false))])
        }
        static func sort(_ a: Args) throws -> Value {
            let items = try a.list("list")
            let keys = a.isNone("key") ? items : try items.map { try a.call(try a.value("key"), [$0]) }
            func less(_ x: Value, _ y: Value) throws -> Bool {
                switch (x, y) {
                case (.number(let p), .number(let q)): return p < q
                case (.string(let p), .string(let q)): return p < q
                default: throw a.bad("list", "sort needs all numbers or all strings, got \(x.typeName) and \(y.typeName)")
                }
            }
            var order = Array(items.indices)
            var failure: Error?
            order.sort { i, j in
                do { return try less(keys[i], keys[j]) } catch { failure = error; return false }
            }
            if let failure { throw failure }
            if try a.bool("reverse") { order.reverse() }
            return .list(order.map { items[$0] })
        }

        static var joinSpec: BuiltinSpec {
            BuiltinSpec(summary: "Joins the texts of a list's items with a separator.",
                        example: "print(join([\"a\", 1, true], \"-\"))\n# expect: a-1-true",
                        params: [Param("list", .list), Param("sep", .string, default: .string(""))])
        }
        static func join(_ a: Args) throws -> Value {
            .string(try a.list("list").map(\.display).joined(separator: try a.string("sep")))
        }

        static var splitSpec: BuiltinSpec {
            BuiltinSpec(summary: "Splits a string at every separator (whitespace by default).",
                        example: "print(split(\"a b  c\"), split(\"1,2\", \",\"))\n# expect: [\"a\", \"b\", \"c\"] [\"1\", \"2\"]",
                        params: [Param("text", .string), Param("sep", .optional(.string), default: .nothing)])
        }
        static func split(_ a: Args) throws -> Value {
            let s = try a.string("text")
            if a.isNone("sep") { return .list(s.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map { .string(String($0)) }) }
            let sep = try a.string("sep")
            guard !sep.isEmpty else { throw a.bad("sep", "must not be empty") }
            return .list(s.components(separatedBy: sep).map { .string($0) })
        }

        static var assertSpec: BuiltinSpec {
            BuiltinSpec(summary: "Stops with an error when `cond` is false.",
                        example: "assert(1 + 1 == 2, \"arithmetic\")",
                        params: [Param("cond"), Param("message", .string, default: .string("assertion failed"))])
        }
        static func assert(_ a: Args) throws -> Value {
            if !(try a.value("cond").isTruthy) { throw ScriptError(try a.string("message")) }
            return .nothing
        }

        static var errorSpec: BuiltinSpec {
            BuiltinSpec(summary: "Stops the recipe with an error message (with the call chain).",
                        example: "let ok = true\nif not ok { error(\"bad input\") }", params: [Param("message", .string)])
        }
        static func error(_ a: Args) throws -> Value {
            throw ScriptError(try a.string("message"))
        }

        static var clockSpec: BuiltinSpec {
            BuiltinSpec(summary: "Seconds since the run (or REPL session) started.",
                        example: "let t0 = clock()\nprint(clock() >= t0)\n# expect: true", params: [])
        }
        static func clock(_ a: Args) throws -> Value {
            .number(ProcessInfo.processInfo.systemUptime - a.interpreter.context.startTime)
        }

        static var existsSpec: BuiltinSpec {
            BuiltinSpec(summary: "Whether a file exists (relative paths are looked up under `--out`, where `save` writes them).",
                        example: "print(exists(\"no/such/file.safetensors\"))\n# expect: false",
                        params: [Param("path", .string)])
        }
        static func exists(_ a: Args) throws -> Value {
            .bool(FileManager.default.fileExists(atPath: a.interpreter.context.outputURL(try a.string("path")).path))
        }

        static var tableSpec: BuiltinSpec {
            BuiltinSpec(summary: "A results table with the given column names; add rows with `t.add([...])`.",
                        help: "Prints aligned in the REPL (numbers right-aligned). Save with `save(t, \"x.md\")` (Markdown), `.tsv` or `.txt`. Non-integral numbers show with up to 4 decimals, or exactly `digits`. `t.rows`, `t.columns` and `t.column(name)` read it back.",
                        example: "let t = table([\"method\", \"W4A4\"])\nt.add([\"PSAQ\", 0.4512])\nt.add([\"SARDFQ\", 0.7])\nprint(t)\n# expect: method    W4A4\n# expect: ------  ------\n# expect: PSAQ    0.4512\n# expect: SARDFQ     0.7",
                        params: [Param("columns", .list, help: "column names"), Param("title", .string, default: .string(""), help: "printed above the table"),
                                 Param("digits", .optional(.integer(0...12)), default: .nothing, help: "fixed decimals for non-integral numbers")])
        }
        static func table(_ a: Args) throws -> Value {
            let cols = try a.list("columns").map { v -> String in
                guard case .string(let s) = v else { throw a.bad("columns", "a list of strings expected, got \(v.brief) in it") }
                return s
            }
            guard !cols.isEmpty else { throw a.bad("columns", "at least one column expected") }
            return .object(Table(columns: cols, title: try a.string("title"), digits: a.isNone("digits") ? nil : try a.int("digits")))
        }

        static var saveSpec: BuiltinSpec {
            BuiltinSpec(summary: "Writes a table, string, tensor or other savable value to a file, atomically, with a provenance sidecar.",
                        help: "Relative paths go under `--out` (default: the current directory). Beside the file, `<file>.provenance.json` records the recipe, parameters, seeds, git commit, date and elapsed time. Tables save as .md/.tsv/.txt, strings as text, tensors as .safetensors. Returns the path written.",
                        example: "let t = table([\"a\"])\nt.add([1])\nt |> save(\"example_table.md\")",
                        params: [Param("value", help: "table, string, tensor, or any savable object"),
                                 Param("path", .string, help: "relative paths go under --out; the extension picks the format")])
        }
        static func save(_ a: Args) throws -> Value {
            let path = try a.string("path")
            let v = try a.value("value")
            let data: Data
            switch v {
            case .string(let s): data = Data(s.utf8)
            case .object(let o as ScriptSavable):
                let ext = (path as NSString).pathExtension.lowercased()
                guard o.saveExtensions.contains(ext) else {
                    throw a.bad("path", "a \(o.typeName) saves as " + o.saveExtensions.map { ".\($0)" }.joined(separator: ", ") + ", got \"\(path)\"")
                }
                data = try o.serialized(for: path)
            case .tensor(let t):
                guard path.hasSuffix(".safetensors") else { throw a.bad("path", "a tensor saves as .safetensors, got \"\(path)\"") }
                data = try Safetensors.encode(tensors: [("tensor", t)])
            case .record(let r):
                // A record of tensors is a safetensors file, one tensor per field in field order.
                guard path.hasSuffix(".safetensors") else { throw a.bad("path", "a record of tensors saves as .safetensors, got \"\(path)\"") }
                var tensors: [(String, Tensor)] = []
                for k in r.keys {
                    guard case .tensor(let t)? = r[k] else { throw a.bad("value", "field '\(shown(k))' is \((r[k] ?? .nothing).brief), not a tensor") }
                    tensors.append((k, t))
                }
                guard !tensors.isEmpty else { throw a.bad("value", "an empty record has no tensors to save") }
                do { data = try Safetensors.encode(tensors: tensors, file: path) } catch let e as SafetensorsError { throw a.bad("value", e.description) }
            default:
                throw a.bad("value", "a table, string, tensor, record of tensors or other savable object expected, got \(v.brief)")
            }
            let url = try Output.write(data, to: path, context: a.interpreter.context)
            return .string(url.path)
        }

        static var loadSpec: BuiltinSpec {
            BuiltinSpec(summary: "Reads a .safetensors file as a record of tensors, one field per tensor in file order.",
                        help: "Relative paths resolve as `save` writes them (under `--out`). The file is validated as strictly as a checkpoint (header size, offsets inside the file and non-overlapping, shape × dtype size = byte range, no duplicate names). Every dtype the reader knows (F32, F16, BF16, F64, the integer types) becomes float32; a tensor stored in another dtype gets a note on stderr naming it. `save(record, \"x.safetensors\")` writes one back.",
                        example: "save({w: ones([2, 3]), b: zeros([3])}, \"example_weights.safetensors\")\nlet r = load(\"example_weights.safetensors\")\nprint(r.w.shape, r.b.shape)\n# expect: [2, 3] [3]",
                        params: [Param("path", .string, help: "a .safetensors file")])
        }
        static func load(_ a: Args) throws -> Value {
            let path = try a.string("path")
            let url = a.interpreter.context.outputURL(path)
            let file: SafetensorsFile
            do { file = try Safetensors.read(path: url.path) } catch let e as SafetensorsError { throw a.bad("path", e.description) }
            for (name, _) in file.tensors {
                if let d = file.dtypes[name], d != "F32" {
                    Console.write(2, Data("note: load: '\(name)' is \(d) in \(path), converted to float32\n".utf8))
                }
            }
            return .record(RecordRef(file.tensors.map { ($0.name, .tensor($0.tensor)) }))
        }
    }

    /// Smallest/largest number of the arguments (or of one list argument); `min` and `max` use it.
    static func numberExtremum(_ a: Args, smallest: Bool) throws -> Value {
        var xs = a.rest
        if xs.count == 1, case .list(let l) = xs[0] { xs = l.items }
        guard !xs.isEmpty else { throw ScriptError("'\(a.builtin.name)' of an empty list") }
        var best: Double? = nil
        for v in xs {
            guard case .number(let n) = v else { throw a.bad("values", "numbers expected, got \(v.brief)") }
            if best == nil || (smallest ? n < best! : n > best!) { best = n }
        }
        return .number(best!)
    }

    /// Converts `--set` text to the type of the parameter's default.
    fileprivate static func parseParam(_ text: String, like dflt: Value, name: String) throws -> Value {
        let t = text.trimmingCharacters(in: .whitespaces)
        switch dflt {
        case .number:
            guard let n = Double(t) else { throw ScriptError("--set \(name)=\(text): a number is expected (the default is \(dflt.repr))") }
            return .number(n)
        case .bool:
            switch t.lowercased() {
            case "true", "1", "yes", "on": return .bool(true)
            case "false", "0", "no", "off": return .bool(false)
            default: throw ScriptError("--set \(name)=\(text): true or false is expected")
            }
        case .string: return .string(text)
        default:
            // Lists, records, none: the text is a literal of the language.
            let interp = Interpreter()
            interp.stepBudget = 10_000
            do {
                guard let v = try interp.run(source: t, name: "--set \(name)") else { throw ScriptError("empty value") }
                if case .list = dflt, case .list = v { return v }
                if case .nothing = dflt { return v }
                if case .record = dflt, case .record = v { return v }
                throw ScriptError("--set \(name)=\(text): a \(dflt.typeName) is expected")
            } catch let e as ScriptError { throw e } catch {
                throw ScriptError("--set \(name)=\(text): not a valid \(dflt.typeName) literal")
            }
        }
    }

    /// The text `help(x)` prints and the REPL's `:help x` shows.
    public static func helpText(for v: Value) -> String {
        switch v {
        case .nothing:
            var out = "Builtins by area (help(\"name\") for details):\n"
            var byArea: [String: [String]] = [:]
            for b in all { byArea[b.area, default: []].append(b.name) }
            for area in areaOrder + byArea.keys.filter({ !areaOrder.contains($0) }).sorted() {
                guard let names = byArea[area] else { continue }
                out += "  \(area): " + names.joined(separator: ", ") + "\n"
            }
            out += "Language: let, fn, if/else, for … in, while, return, |>, [] indexing, .members. See docs/language.md."
            return out
        case .string(let name):
            if let b = lookup(name) { return helpText(for: .builtin(b)) }
            var msg = "no builtin named '\(shown(name))'"
            if let s = suggestion(for: name, among: names) { msg += " (did you mean '\(s)'?)" }
            return msg
        case .builtin(let b):
            var out = b.signature + "\n  " + b.summary
            if !b.help.isEmpty { out += "\n\n" + b.help.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n") }
            let documented = b.params.filter { !$0.help.isEmpty }
            if !documented.isEmpty {
                out += "\n\nParameters:"
                for p in documented { out += "\n  \(p.name): \(p.help)" }
            }
            if !b.example.isEmpty {
                out += "\n\nExample:\n" + b.example.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n")
            }
            return out
        case .function(let c):
            return "fn \(c.decl.name)(" + c.decl.params.map { $0.name + ($0.defaultValue != nil ? ": …" : "") }.joined(separator: ", ") + ")  defined at \(c.decl.pos)"
        case .object(let o):
            return "a \(o.typeName); members: " + o.memberNames.joined(separator: ", ")
        default:
            return "a \(v.typeName) value: \(v.repr)"
        }
    }
}
