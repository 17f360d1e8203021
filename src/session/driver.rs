//! The drivers that run python and node sessions block by block, like
//! notebook cells, in one namespace.
//!
//! The interpreter runs a driver (`python3 -c`, `node -e`) instead of reading
//! a script. The driver first takes its input off stdin (python: a private
//! duplicate of the descriptor, and `/dev/null` on descriptor 0; node: it
//! reads all input before running any block, so stdin is at its end), so a
//! block that reads stdin gets end of input. It then reads framed cells (see
//! `writer::Feed`): a header `<prefix> <separate> <show_value>` line, then per
//! cell `b|t <bytes> <line> <file as JSON>` and the code. Each cell is
//! compiled on its own with the document's file name and line numbers, so
//! a block that does not compile fails alone, after the blocks before it
//! have run, and tracebacks name `File "docs/guide.md", line 17`. Before
//! each new block the driver prints the previous block's marker itself,
//! after flushing the blocks' output. An error ends the session with exit
//! status 1, as an uncaught exception ends a script.

/// The python driver. It runs in a dictionary of its own, so `__main__`
/// holds only the blocks' names; its frames (`<litprog>`, `<string>`) are
/// cut from tracebacks.
pub(crate) const PYTHON_DRIVER: &str = r#"
def main():
    import os, sys, linecache
    from types import CodeType
    src = os.fdopen(os.dup(0), 'rb')
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.argv[:] = ['']
    head = src.readline().split()
    if len(head) < 3:
        return
    prefix, separate, show = head[0], head[1] == b'1', head[2] == b'1'
    if show:
        import ast
    ns = sys.modules['__main__'].__dict__
    ns.update(__file__='<stdin>', __cached__=None)
    ours = ('<litprog>', '<string>')
    sources = {}

    def flush():
        try:
            sys.stdout.flush()
        except Exception:
            pass
        try:
            sys.stderr.flush()
        except Exception:
            pass

    def mark(i):
        flush()
        data = b'%s%d__\n' % (prefix, i)
        os.write(1, data)
        if separate:
            os.write(2, data)

    def fail(compiling=False):
        t, v, tb = sys.exc_info()
        while tb is not None and tb.tb_frame.f_code.co_filename in ours:
            tb = tb.tb_next
        if compiling:
            tb = None
        try:
            sys.excepthook(t, v.with_traceback(tb), tb)
        except Exception:
            pass
        flush()
        if isinstance(v, KeyboardInterrupt):
            # As python does: end by the signal, for the caller to see.
            import signal
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
        raise SystemExit(1)

    def remember(name, line, code):
        lines = sources.setdefault(name, [])
        text = code.decode('utf-8', 'replace').splitlines(True)
        need = line - 1 + len(text)
        if len(lines) < need:
            lines.extend(['\n'] * (need - len(lines)))
        if text and not text[-1].endswith('\n'):
            text[-1] += '\n'
        lines[line - 1:need] = text
        # No mtime: linecache.checkcache leaves the entry alone.
        linecache.cache[name] = (0, None, lines, name)

    def shift(co, d):
        consts = co.co_consts
        for c in consts:
            if type(c) is CodeType:
                consts = tuple(shift(c, d) if type(c) is CodeType else c for c in consts)
                break
        return co.replace(co_firstlineno=co.co_firstlineno + d, co_consts=consts)

    # Names come as JSON strings, nearly always without an escape.
    names = {}

    def name_of(raw):
        name = names.get(raw)
        if name is None:
            if b'\\' in raw:
                import json
                name = json.loads(raw)
            else:
                name = raw.strip()[1:-1].decode('utf-8', 'replace')
            names[raw] = name
        return name

    index = -1
    while True:
        header = src.readline()
        if not header:
            break
        kind, n, line, name = header.split(b' ', 3)
        code = src.read(int(n))
        line, name = int(line), name_of(name)
        if kind == b'b':
            if index >= 0:
                mark(index)
            index += 1
        if name != '<stdin>':
            remember(name, line, code)
        try:
            if show:
                tree = ast.parse(code, name)
            else:
                unit = compile(code, name, 'exec', dont_inherit=True)
        except SyntaxError as e:
            # python fills in the text from the file by that name, at the
            # cell's own line number: take it from the cell instead.
            if e.lineno is not None:
                cell = code.decode('utf-8', 'replace').splitlines(True)
                e.text = cell[e.lineno - 1] if 0 < e.lineno <= len(cell) else None
            if e.lineno is not None:
                e.lineno += line - 1
            if getattr(e, 'end_lineno', None) is not None:
                e.end_lineno += line - 1
            e.filename = name
            fail(True)
        last = None
        if show:
            ast.increment_lineno(tree, line - 1)
            if tree.body and isinstance(tree.body[-1], ast.Expr):
                last = ast.Expression(tree.body.pop().value)
        else:
            # Line numbers are relative to each code object's first line:
            # moving those moves every line, at no cost per line.
            if line > 1:
                unit = shift(unit, line - 1)
        try:
            if show:
                unit = compile(tree, name, 'exec', dont_inherit=True)
            exec(unit, ns)
            if last is not None:
                value = eval(compile(last, name, 'eval'), ns)
                if value is not None:
                    sys.displayhook(value)
        except SystemExit:
            flush()
            raise
        except BaseException:
            fail()
    flush()

main()
"#;

/// What `python -c` runs: the driver, compiled as `<litprog>` in a fresh
/// dictionary (it is the next argument).
pub(crate) const PYTHON_BOOT: &str = "exec(compile(__import__('sys').argv.pop(1), '<litprog>', 'exec'), {'__name__': '__litprog__'})";

/// The node driver, run with `node -e`. A block containing a top-level
/// `await` runs as the body of an async function (its declarations are then
/// its own); the others run as scripts in the global scope, so `let`,
/// `const` and functions carry over as in the REPL.
pub(crate) const NODE_DRIVER: &str = r#"
(async () => {
  const fs = require('fs'), vm = require('vm'), util = require('util');
  globalThis.require = require;
  globalThis.module = module;
  globalThis.exports = module.exports;
  globalThis.__filename = '[stdin]';
  globalThis.__dirname = '.';
  const chunks = [], buf = Buffer.alloc(1 << 16);
  for (;;) {
    let n;
    try { n = fs.readSync(0, buf, 0, buf.length, null); }
    catch (e) { if (e.code === 'EAGAIN') continue; if (e.code === 'EOF') break; throw e; }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  const data = Buffer.concat(chunks);
  let pos = data.indexOf(10);
  if (pos < 0) return;
  const head = data.subarray(0, pos).toString().split(' ');
  pos += 1;
  const prefix = head[0], separate = head[1] === '1', show = head[2] === '1';
  const mark = (i) => {
    const text = prefix + i + '__\n';
    fs.writeSync(1, text);
    if (separate) fs.writeSync(2, text);
  };
  const ours = /\[eval\]|\(node:|litprog-driver/;
  const fail = (e) => {
    let text = (e && e.stack) ? String(e.stack) : 'Uncaught ' + util.inspect(e);
    text = text.split('\n').filter((l) => !(/^\s+at /.test(l) && ours.test(l))).join('\n');
    fs.writeSync(2, text + '\n');
    process.exit(1);
  };
  let index = -1;
  while (pos < data.length) {
    const nl = data.indexOf(10, pos);
    const header = data.subarray(pos, nl).toString();
    const [kind, n, line] = header.split(' ', 3);
    const name = JSON.parse(header.split(' ').slice(3).join(' '));
    const code = data.subarray(nl + 1, nl + 1 + Number(n)).toString();
    pos = nl + 1 + Number(n);
    if (kind === 'b') {
      if (index >= 0) mark(index);
      index += 1;
    }
    let script, wrapped = false;
    try {
      script = new vm.Script(code, { filename: name, lineOffset: Number(line) - 1 });
    } catch (e) {
      if (!(e instanceof SyntaxError) || !/await/.test(e.message)) fail(e);
      try {
        script = new vm.Script('(async () => {\n' + code + '\n})()',
          { filename: name, lineOffset: Number(line) - 2 });
        wrapped = true;
      } catch (_) { fail(e); }
    }
    try {
      let value = script.runInThisContext();
      if (wrapped) { await value; value = undefined; }
      if (show && value !== undefined) console.log(util.inspect(value, { colors: false }));
    } catch (e) { fail(e); }
  }
})().catch((e) => { require('fs').writeSync(2, String(e && e.stack || e) + '\n'); process.exit(1); });
"#;
