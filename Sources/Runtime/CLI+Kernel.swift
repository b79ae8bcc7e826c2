import CReadline
import Foundation
import Kernel
import Script

extension CLI {
    /// `sardfq kernel -f CONNECTION_FILE` (what Jupyter runs) and `sardfq kernel install [--prefix DIR]`.
    static func kernel(_ args: [String]) throws -> Int32 {
        switch args.first {
        case "install":
            var prefix: String?
            var rest = Array(args.dropFirst())
            while let a = rest.first {
                rest.removeFirst()
                guard a == "--prefix", let p = rest.first else { throw UsageError("kernel install takes only --prefix DIR, got '\(a)'") }
                prefix = p
                rest.removeFirst()
            }
            let binary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
            let dir = try KernelSpec.install(prefix: prefix, binary: binary)
            print("installed the sardfq kernel in \(dir.path)")
            return 0
        case "-f", "--connection-file":
            guard args.count == 2 else { throw UsageError("kernel -f needs one connection file") }
            crl_install_sigint(Interrupt.flag)  // a SIGINT (interrupt_mode "signal") stops the cell too
            Progress.enabled = true
            let k: JupyterKernel
            let ctx = RunContext()
            ctx.installRuntimeServices()
            do { k = try JupyterKernel(connectionFile: args[1], context: ctx) } catch {
                eprint("sardfq kernel: \(error)")
                return 1
            }
            return k.run()
        default:
            throw UsageError("kernel needs 'install' or '-f CONNECTION_FILE'")
        }
    }

    /// `sardfq notebook FILE [-o OUT] [--set name=value]… [--quick]`: the recipe as an .ipynb
    /// (default: FILE with the extension .ipynb, in the current folder).
    static func notebook(_ args: [String]) throws -> Int32 {
        var out: String?
        var rest: [String] = []
        var i = 0
        while i < args.count {
            if args[i] == "-o" || args[i] == "--output" {
                guard i + 1 < args.count else { throw UsageError("\(args[i]) needs a file name") }
                out = args[i + 1]
                i += 2
            } else {
                rest.append(args[i])
                i += 1
            }
        }
        let o = try parseRunOptions(rest)
        guard o.outDir == nil, !o.fresh else { throw UsageError("notebook takes -o, --set and --quick") }
        let file: SourceFile
        let program: Program
        do {
            file = try readSource(o.file)
            program = try Parser.parse(file)
        } catch {
            eprint("\(error)")
            return 1
        }
        let target = out ?? URL(fileURLWithPath: o.file).deletingPathExtension().lastPathComponent + ".ipynb"
        let data = try KernelSpec.notebook(for: file, program: program, quick: o.quick, overrides: o.overrides)
        try data.write(to: URL(fileURLWithPath: target), options: .atomic)
        print("wrote \(target)")
        return 0
    }
}
