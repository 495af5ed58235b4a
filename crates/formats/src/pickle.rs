//! An inert pickle decoder: it turns a pickle stream into data and never executes anything.
//!
//! Python's pickle is a small stack machine whose `GLOBAL` + `REDUCE` opcodes call arbitrary
//! functions. Here every global is looked up in a fixed allow-list: the functions that rebuild
//! tensors and the containers that hold them are interpreted by this module (no Python involved);
//! a few plain data types (argparse namespaces, NumPy scalars, …) become opaque placeholders; any
//! other global (`os.system`, `builtins.eval`, `subprocess.Popen`, …) stops decoding with an error
//! that names it. Written by hand because no well-kept crate decodes pickles without also trusting
//! them (and the one in candle-core, with ~130 dependencies, does not cap its allocations).
//!
//! Every length is checked against the bytes that remain before anything is allocated; the stack,
//! the memo and nesting are capped.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// Nothing in a checkpoint needs more.
const MAX_STACK: usize = 1 << 20;
const MAX_MEMO: usize = 1 << 22;
const MAX_DIMS: usize = 64;

/// A decoded pickle value. Some payloads are only ever read through `Debug` (in error messages).
#[derive(Debug)]
#[allow(dead_code)]
pub(crate) enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(RefCell<Vec<Rc<Value>>>),
    Tuple(Vec<Rc<Value>>),
    Dict(RefCell<Vec<Pair>>),
    Set(RefCell<Vec<Rc<Value>>>),
    /// A reference to a global, not yet called (e.g. a storage type such as `torch.FloatStorage`).
    Global(String),
    /// A persistent id: the loader resolves it to a storage.
    Persistent(Rc<Value>),
    /// A tensor view of a storage.
    Tensor(TensorRef),
    /// An inert object of an allowed data type (its contents are ignored).
    Opaque(String),
}

/// A key and its value in a dict.
pub(crate) type Pair = (Rc<Value>, Rc<Value>);

/// `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, …)`, not yet materialized.
#[derive(Debug, Clone)]
pub(crate) struct TensorRef {
    /// The persistent id of the storage (a tuple such as `('storage', torch.FloatStorage, '0', 'cpu', 12)`).
    pub storage: Rc<Value>,
    /// Offset into the storage, in elements.
    pub offset: usize,
    pub size: Vec<usize>,
    pub stride: Vec<usize>,
}

/// Functions that rebuild tensors: interpreted here.
const TENSOR_REBUILDERS: &[&str] = &[
    "torch._utils._rebuild_tensor",
    "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_tensor_v3",
    "torch._utils._rebuild_parameter",
    "torch._utils._rebuild_parameter_with_state",
    "torch._tensor._rebuild_from_type_v2",
];

/// Plain data types that may sit beside the weights; they decode to opaque placeholders.
const INERT: &[&str] = &[
    "argparse.Namespace",
    "builtins.slice",
    "builtins.complex",
    "_codecs.encode",
    "numpy.core.multiarray._reconstruct",
    "numpy._core.multiarray._reconstruct",
    "numpy.core.multiarray.scalar",
    "numpy._core.multiarray.scalar",
    "numpy.ndarray",
    "numpy.dtype",
    "torch.Size",
    "torch.device",
    "torch._utils._rebuild_device_tensor_from_numpy",
];

/// Why a pickle was not decoded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PickleError {
    /// A global outside the allow-list: nothing was called.
    Refused(String),
    /// Broken or hostile stream, at a byte offset.
    Malformed { offset: usize, reason: String },
}

impl std::fmt::Display for PickleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PickleError::Refused(g) if runs_code(g) => write!(
                f,
                "the pickle calls '{g}', which would run code when the file is loaded with torch.load; refused \
                 (nothing was executed here). Do not torch.load this file"
            ),
            PickleError::Refused(g) => write!(
                f,
                "the pickle calls '{g}', which is not a tensor-rebuilding function; refused (nothing was executed). \
                 If it is plain data beside the weights, --allow-global {g} reads it as an opaque value (it is never called)"
            ),
            PickleError::Malformed { offset, reason } => write!(f, "malformed pickle at byte {offset}: {reason}"),
        }
    }
}

/// Globals whose only use in a pickle is to run code or reach the system.
pub(crate) fn runs_code(global: &str) -> bool {
    const MODULES: &[&str] = &[
        "os",
        "posix",
        "nt",
        "subprocess",
        "commands",
        "sys",
        "shutil",
        "socket",
        "importlib",
        "runpy",
        "pty",
        "ctypes",
        "marshal",
        "pickle",
        "code",
        "webbrowser",
        "multiprocessing",
        "threading",
        "signal",
    ];
    const BUILTINS: &[&str] =
        &["eval", "exec", "compile", "open", "__import__", "getattr", "setattr", "globals", "breakpoint"];
    let (module, name) = global.rsplit_once('.').unwrap_or(("", global));
    let root = module.split('.').next().unwrap_or("");
    MODULES.contains(&root) || (matches!(module, "builtins" | "__builtin__") && BUILTINS.contains(&name))
}

/// Decodes one pickle from the start of `data`; returns the value and the bytes consumed.
/// `allowed`: globals the user declared inert data (`--allow-global`); they decode to opaque
/// placeholders like the built-in [`INERT`] list (nothing is ever called either way).
pub(crate) fn decode<'a>(data: &'a [u8], allowed: &'a [String]) -> Result<(Rc<Value>, usize), PickleError> {
    Machine { data, pos: 0, stack: Vec::new(), marks: Vec::new(), memo: HashMap::new(), allowed }.run()
}

struct Machine<'a> {
    allowed: &'a [String],
    data: &'a [u8],
    pos: usize,
    stack: Vec<Rc<Value>>,
    marks: Vec<usize>,
    memo: HashMap<u32, Rc<Value>>,
}

impl Machine<'_> {
    fn err<T>(&self, reason: impl Into<String>) -> Result<T, PickleError> {
        Err(PickleError::Malformed { offset: self.pos, reason: reason.into() })
    }

    fn take(&mut self, n: usize) -> Result<&[u8], PickleError> {
        match self.pos.checked_add(n).filter(|&e| e <= self.data.len()) {
            Some(end) => {
                let s = &self.data[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => self.err(format!("needs {n} more bytes, the stream ends first")),
        }
    }
    fn u8(&mut self) -> Result<u8, PickleError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, PickleError> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().expect("2")))
    }
    fn u32(&mut self) -> Result<u32, PickleError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4")))
    }
    fn len_u64(&mut self) -> Result<usize, PickleError> {
        let n = u64::from_le_bytes(self.take(8)?.try_into().expect("8"));
        usize::try_from(n).or_else(|_| self.err("length overflows"))
    }
    fn line(&mut self) -> Result<String, PickleError> {
        let rest = &self.data[self.pos..];
        let Some(n) = rest.iter().position(|&b| b == b'\n') else { return self.err("unterminated text line") };
        let s = String::from_utf8_lossy(&rest[..n]).into_owned();
        self.pos += n + 1;
        Ok(s)
    }
    fn utf8(&mut self, n: usize) -> Result<Rc<Value>, PickleError> {
        let b = self.take(n)?;
        match std::str::from_utf8(b) {
            Ok(s) => Ok(Rc::new(Value::Str(s.to_string()))),
            Err(_) => self.err("string is not UTF-8"),
        }
    }

    fn push(&mut self, v: Rc<Value>) -> Result<(), PickleError> {
        if self.stack.len() >= MAX_STACK {
            return self.err(format!("stack deeper than {MAX_STACK}"));
        }
        self.stack.push(v);
        Ok(())
    }
    fn pop(&mut self) -> Result<Rc<Value>, PickleError> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return self.err("pop from an empty stack");
        }
        Ok(self.stack.pop().expect("checked"))
    }
    fn top(&self) -> Result<Rc<Value>, PickleError> {
        match self.stack.last() {
            Some(v) => Ok(v.clone()),
            None => self.err("empty stack"),
        }
    }
    fn pop_mark(&mut self) -> Result<Vec<Rc<Value>>, PickleError> {
        let Some(m) = self.marks.pop() else { return self.err("no MARK on the stack") };
        if m > self.stack.len() {
            return self.err("MARK above the stack");
        }
        Ok(self.stack.split_off(m))
    }
    fn memo_put(&mut self, key: u32) -> Result<(), PickleError> {
        if self.memo.len() >= MAX_MEMO && !self.memo.contains_key(&key) {
            return self.err(format!("memo larger than {MAX_MEMO}"));
        }
        let v = self.top()?;
        self.memo.insert(key, v);
        Ok(())
    }
    fn memo_get(&mut self, key: u32) -> Result<(), PickleError> {
        match self.memo.get(&key).cloned() {
            Some(v) => self.push(v),
            None => self.err(format!("memo key {key} was never stored")),
        }
    }

    fn run(mut self) -> Result<(Rc<Value>, usize), PickleError> {
        loop {
            let op = self.u8()?;
            match op {
                0x80 => {
                    let proto = self.u8()?;
                    if proto > 5 {
                        return self.err(format!("unknown pickle protocol {proto}"));
                    }
                }
                0x95 => {
                    self.take(8)?; // FRAME: a length hint only
                }
                b'.' => {
                    let v = self.pop()?;
                    return Ok((v, self.pos));
                }
                b'(' => self.marks.push(self.stack.len()),
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let v = self.top()?;
                    self.push(v)?;
                }
                b'N' => self.push(Rc::new(Value::None))?,
                0x88 => self.push(Rc::new(Value::Bool(true)))?,
                0x89 => self.push(Rc::new(Value::Bool(false)))?,
                b'J' => {
                    let v = i32::from_le_bytes(self.take(4)?.try_into().expect("4"));
                    self.push(Rc::new(Value::Int(v.into())))?
                }
                b'K' => {
                    let v = self.u8()?;
                    self.push(Rc::new(Value::Int(v.into())))?
                }
                b'M' => {
                    let v = self.u16()?;
                    self.push(Rc::new(Value::Int(v.into())))?
                }
                0x8a => {
                    let n = usize::from(self.u8()?);
                    let v = long(self.take(n)?);
                    self.push(Rc::new(v))?
                }
                0x8b => {
                    let n = self.u32()? as usize;
                    let v = long(self.take(n)?);
                    self.push(Rc::new(v))?
                }
                b'I' | b'L' => {
                    let line = self.line()?;
                    let t = line.trim_end_matches('L');
                    let v = match t {
                        "00" => Value::Bool(false),
                        "01" => Value::Bool(true),
                        _ => match t.parse::<i64>() {
                            Ok(i) => Value::Int(i),
                            Err(_) => Value::Opaque("int".into()),
                        },
                    };
                    self.push(Rc::new(v))?
                }
                b'G' => {
                    let v = f64::from_be_bytes(self.take(8)?.try_into().expect("8"));
                    self.push(Rc::new(Value::Float(v)))?
                }
                b'F' => {
                    let line = self.line()?;
                    let v = line.trim().parse::<f64>().unwrap_or(f64::NAN);
                    self.push(Rc::new(Value::Float(v)))?
                }
                b'X' => {
                    let n = self.u32()? as usize;
                    let v = self.utf8(n)?;
                    self.push(v)?
                }
                0x8c => {
                    let n = usize::from(self.u8()?);
                    let v = self.utf8(n)?;
                    self.push(v)?
                }
                0x8d => {
                    let n = self.len_u64()?;
                    let v = self.utf8(n)?;
                    self.push(v)?
                }
                b'V' => {
                    let line = self.line()?;
                    self.push(Rc::new(Value::Str(line)))?
                }
                b'U' => {
                    let n = usize::from(self.u8()?);
                    let b = self.take(n)?.to_vec();
                    self.push(Rc::new(Value::Str(String::from_utf8_lossy(&b).into_owned())))?
                }
                b'T' => {
                    let n = self.u32()? as usize;
                    let b = self.take(n)?.to_vec();
                    self.push(Rc::new(Value::Str(String::from_utf8_lossy(&b).into_owned())))?
                }
                b'S' => {
                    let line = self.line()?;
                    self.push(Rc::new(Value::Str(line.trim_matches(['\'', '"']).to_string())))?
                }
                b'C' => {
                    let n = usize::from(self.u8()?);
                    let b = self.take(n)?.to_vec();
                    self.push(Rc::new(Value::Bytes(b)))?
                }
                b'B' => {
                    let n = self.u32()? as usize;
                    let b = self.take(n)?.to_vec();
                    self.push(Rc::new(Value::Bytes(b)))?
                }
                0x8e | 0x96 => {
                    let n = self.len_u64()?;
                    let b = self.take(n)?.to_vec();
                    self.push(Rc::new(Value::Bytes(b)))?
                }
                b']' => self.push(Rc::new(Value::List(RefCell::new(Vec::new()))))?,
                b'}' => self.push(Rc::new(Value::Dict(RefCell::new(Vec::new()))))?,
                b')' => self.push(Rc::new(Value::Tuple(Vec::new())))?,
                0x8f => self.push(Rc::new(Value::Set(RefCell::new(Vec::new()))))?,
                b'l' => {
                    let items = self.pop_mark()?;
                    self.push(Rc::new(Value::List(RefCell::new(items))))?
                }
                b't' => {
                    let items = self.pop_mark()?;
                    self.push(Rc::new(Value::Tuple(items)))?
                }
                0x91 => {
                    let items = self.pop_mark()?;
                    self.push(Rc::new(Value::Set(RefCell::new(items))))?
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    self.push(Rc::new(Value::Tuple(items)))?
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    let pairs = self.pairs(items)?;
                    self.push(Rc::new(Value::Dict(RefCell::new(pairs))))?
                }
                b'a' => {
                    let v = self.pop()?;
                    let list = self.top()?;
                    self.append(&list, vec![v])?;
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    let list = self.top()?;
                    self.append(&list, items)?;
                }
                0x90 => {
                    let items = self.pop_mark()?;
                    let set = self.top()?;
                    self.append(&set, items)?;
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    let d = self.top()?;
                    self.set_items(&d, vec![(k, v)])?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    let pairs = self.pairs(items)?;
                    let d = self.top()?;
                    self.set_items(&d, pairs)?;
                }
                b'q' => {
                    let k = self.u8()?;
                    self.memo_put(k.into())?
                }
                b'r' => {
                    let k = self.u32()?;
                    self.memo_put(k)?
                }
                b'p' => {
                    let line = self.line()?;
                    let Ok(k) = line.trim().parse::<u32>() else { return self.err("bad PUT key") };
                    self.memo_put(k)?
                }
                0x94 => {
                    let k = u32::try_from(self.memo.len()).unwrap_or(u32::MAX);
                    self.memo_put(k)?
                }
                b'h' => {
                    let k = self.u8()?;
                    self.memo_get(k.into())?
                }
                b'j' => {
                    let k = self.u32()?;
                    self.memo_get(k)?
                }
                b'g' => {
                    let line = self.line()?;
                    let Ok(k) = line.trim().parse::<u32>() else { return self.err("bad GET key") };
                    self.memo_get(k)?
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.push(Rc::new(Value::Global(format!("{module}.{name}"))))?
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (Value::Str(m), Value::Str(n)) = (&*module, &*name) else {
                        return self.err("STACK_GLOBAL needs two strings");
                    };
                    let g = format!("{m}.{n}");
                    self.push(Rc::new(Value::Global(g)))?
                }
                b'R' | 0x81 => {
                    let args = self.pop()?;
                    let func = self.pop()?;
                    let v = self.call(&func, &args)?;
                    self.push(v)?
                }
                0x92 => {
                    let _kwargs = self.pop()?;
                    let args = self.pop()?;
                    let func = self.pop()?;
                    let v = self.call(&func, &args)?;
                    self.push(v)?
                }
                b'i' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    let args = self.pop_mark()?;
                    let v = self.call(&Value::Global(format!("{module}.{name}")), &Value::Tuple(args))?;
                    self.push(v)?
                }
                b'o' => {
                    let mut items = self.pop_mark()?;
                    if items.is_empty() {
                        return self.err("OBJ without a class");
                    }
                    let func = items.remove(0);
                    let v = self.call(&func, &Value::Tuple(items))?;
                    self.push(v)?
                }
                b'b' => {
                    // BUILD: sets an object's state. Tensors and containers ignore it (it carries
                    // only metadata such as `_metadata` or hooks here).
                    let _state = self.pop()?;
                    self.top()?;
                }
                b'Q' => {
                    let pid = self.pop()?;
                    self.push(Rc::new(Value::Persistent(pid)))?
                }
                b'P' => {
                    let line = self.line()?;
                    self.push(Rc::new(Value::Persistent(Rc::new(Value::Str(line)))))?
                }
                0x82..=0x84 => return self.err("extension registry opcodes are refused"),
                0x97 | 0x98 => return self.err("out-of-band buffers are refused"),
                other => return self.err(format!("unknown opcode 0x{other:02x}")),
            }
        }
    }

    fn pairs(&self, items: Vec<Rc<Value>>) -> Result<Vec<Pair>, PickleError> {
        if items.len() % 2 != 0 {
            return self.err("odd number of items for a dict");
        }
        let mut it = items.into_iter();
        let mut out = Vec::new();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            out.push((k, v));
        }
        Ok(out)
    }

    fn append(&self, target: &Value, items: Vec<Rc<Value>>) -> Result<(), PickleError> {
        match target {
            Value::List(l) | Value::Set(l) => {
                l.borrow_mut().extend(items);
                Ok(())
            }
            Value::Opaque(_) => Ok(()),
            _ => self.err("APPEND to something that is not a list"),
        }
    }

    fn set_items(&self, target: &Value, pairs: Vec<Pair>) -> Result<(), PickleError> {
        match target {
            Value::Dict(d) => {
                d.borrow_mut().extend(pairs);
                Ok(())
            }
            Value::Opaque(_) => Ok(()),
            _ => self.err("SETITEM on something that is not a dict"),
        }
    }

    /// REDUCE: the allow-list. Nothing from the stream is ever executed.
    fn call(&self, func: &Value, args: &Value) -> Result<Rc<Value>, PickleError> {
        let Value::Global(name) = func else { return self.err("call of something that is not a global") };
        let args: &[Rc<Value>] = match args {
            Value::Tuple(a) => a,
            _ => return self.err(format!("arguments of '{name}' are not a tuple")),
        };
        let name = name.as_str();
        if name == "collections.OrderedDict" || name == "builtins.dict" {
            return Ok(Rc::new(Value::Dict(RefCell::new(Vec::new()))));
        }
        if name == "builtins.set" || name == "builtins.frozenset" {
            return Ok(Rc::new(Value::Set(RefCell::new(Vec::new()))));
        }
        if INERT.contains(&name) || self.allowed.iter().any(|a| a == name) {
            return Ok(Rc::new(Value::Opaque(name.to_string())));
        }
        if !TENSOR_REBUILDERS.contains(&name) {
            return Err(PickleError::Refused(name.to_string()));
        }
        match name {
            "torch._utils._rebuild_parameter" | "torch._utils._rebuild_parameter_with_state" => match args.first() {
                Some(t) if matches!(**t, Value::Tensor(_)) => Ok(t.clone()),
                _ => self.err(format!("'{name}' without a tensor")),
            },
            "torch._tensor._rebuild_from_type_v2" => {
                // (func, type, args, state): the tensor is func(*args)
                let (Some(f), Some(a)) = (args.first(), args.get(2)) else {
                    return self.err("_rebuild_from_type_v2 needs (func, type, args, state)");
                };
                self.call(f, a)
            }
            _ => {
                // _rebuild_tensor(storage, offset, size, stride) and _v2/_v3 with extra arguments
                let (Some(storage), Some(offset), Some(size), Some(stride)) =
                    (args.first(), args.get(1), args.get(2), args.get(3))
                else {
                    return self.err(format!("'{name}' needs (storage, offset, size, stride, …)"));
                };
                if !matches!(**storage, Value::Persistent(_)) {
                    return self.err(format!("'{name}': the storage is not a persistent reference"));
                }
                let offset = self.index(offset, "storage offset")?;
                let size = self.dims(size, "size")?;
                let stride = self.dims(stride, "stride")?;
                if size.len() != stride.len() {
                    return self.err(format!("size {size:?} and stride {stride:?} differ in length"));
                }
                Ok(Rc::new(Value::Tensor(TensorRef { storage: storage.clone(), offset, size, stride })))
            }
        }
    }

    fn index(&self, v: &Value, what: &str) -> Result<usize, PickleError> {
        match v {
            Value::Int(i) if *i >= 0 => usize::try_from(*i).or_else(|_| self.err(format!("{what} overflows"))),
            _ => self.err(format!("{what} is not a non-negative integer")),
        }
    }

    fn dims(&self, v: &Value, what: &str) -> Result<Vec<usize>, PickleError> {
        let items: Vec<Rc<Value>> = match v {
            Value::Tuple(t) => t.clone(),
            Value::List(l) => l.borrow().clone(),
            _ => return self.err(format!("tensor {what} is not a tuple")),
        };
        if items.len() > MAX_DIMS {
            return self.err(format!("tensor {what} has more than {MAX_DIMS} dimensions"));
        }
        items.iter().map(|d| self.index(d, what)).collect()
    }
}

/// LONG1/LONG4: little-endian two's complement of any length.
fn long(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Int(0);
    }
    if bytes.len() > 8 {
        return Value::Opaque("big integer".into());
    }
    let neg = bytes[bytes.len() - 1] & 0x80 != 0;
    let mut buf = if neg { [0xffu8; 8] } else { [0u8; 8] };
    buf[..bytes.len()].copy_from_slice(bytes);
    Value::Int(i64::from_le_bytes(buf))
}

/// Every tensor reachable from `root`, named by its key path (`model.layers.0.weight`), in
/// pickle order. Walks iteratively with a visit budget, so shared or deeply nested structures
/// cannot make it explode.
pub(crate) fn tensors(root: &Rc<Value>) -> Result<Vec<(String, TensorRef)>, String> {
    const MAX_VISITS: usize = 10_000_000;
    const MAX_DEPTH: usize = 256;
    let mut out = Vec::new();
    let mut todo: Vec<(String, Rc<Value>, usize)> = vec![(String::new(), root.clone(), 0)];
    let mut visits = 0usize;
    while let Some((path, v, depth)) = todo.pop() {
        visits += 1;
        if visits > MAX_VISITS || depth > MAX_DEPTH {
            return Err("the pickle's structure is too large or too deeply nested".into());
        }
        let join = |k: &str| if path.is_empty() { k.to_string() } else { format!("{path}.{k}") };
        match &*v {
            Value::Tensor(t) => out.push((if path.is_empty() { "tensor".into() } else { path }, t.clone())),
            Value::Dict(d) => {
                for (k, val) in d.borrow().iter().rev() {
                    let key = match &**k {
                        Value::Str(s) => s.clone(),
                        Value::Int(i) => i.to_string(),
                        _ => continue,
                    };
                    todo.push((join(&key), val.clone(), depth + 1));
                }
            }
            Value::List(l) => {
                for (i, val) in l.borrow().iter().enumerate().rev() {
                    todo.push((join(&i.to_string()), val.clone(), depth + 1));
                }
            }
            Value::Tuple(t) => {
                for (i, val) in t.iter().enumerate().rev() {
                    todo.push((join(&i.to_string()), val.clone(), depth + 1));
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_containers_and_scalars() {
        // pickle.dumps({'a': [1, 2.5, 'x'], 'b': (None, True)}, protocol=2)
        let p = b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01]q\x02(K\x01G@\x04\x00\x00\x00\x00\x00\x00X\x01\x00\x00\x00xq\x03eX\x01\x00\x00\x00bq\x04N\x88\x86q\x05u.";
        let (v, used) = decode(p, &[]).unwrap();
        assert_eq!(used, p.len());
        let Value::Dict(d) = &*v else { panic!("{v:?}") };
        assert_eq!(d.borrow().len(), 2);
    }

    #[test]
    fn refuses_os_system_and_names_it() {
        // pickle.dumps of an object whose __reduce__ returns (os.system, ('touch pwned',)), protocol 2
        let p = b"\x80\x02cposix\nsystem\nq\x00X\x0b\x00\x00\x00touch pwnedq\x01\x85q\x02Rq\x03.";
        assert_eq!(decode(p, &[]).unwrap_err(), PickleError::Refused("posix.system".into()));
        let p = b"\x80\x04\x95\x1f\x00\x00\x00\x00\x00\x00\x00\x8c\x08builtins\x94\x8c\x04eval\x94\x93\x94\x8c\x011\x94\x85\x94R\x94.";
        assert_eq!(decode(p, &[]).unwrap_err(), PickleError::Refused("builtins.eval".into()));
        // declared inert by the user: decoded as an opaque value, still never called
        let (v, _) = decode(p, &["builtins.eval".to_string()]).unwrap();
        assert!(matches!(&*v, Value::Opaque(name) if name == "builtins.eval"));
    }

    #[test]
    fn hostile_streams_are_errors_not_panics() {
        for p in [
            &b""[..],
            b"\x80\x02",
            b"\x80\x02X\xff\xff\xff\xff",                    // string longer than the stream
            b"\x80\x02\x8d\xff\xff\xff\xff\xff\xff\xff\xff", // 8-byte length
            b"\x80\x02h\x05.",                               // memo key never stored
            b"\x80\x02e.",                                   // APPENDS without MARK
            b"\x80\x02.",                                    // STOP with an empty stack
            b"\x80\x02K\x01K\x02s.",                         // SETITEM on an int
            b"\x80\x09.",                                    // unknown protocol
            b"\x80\x02\xff",                                 // unknown opcode
        ] {
            assert!(decode(p, &[]).is_err(), "{p:?}");
        }
    }

    #[test]
    fn long1_integers() {
        assert!(matches!(long(&[0xff]), Value::Int(-1)));
        assert!(matches!(long(&[0x00, 0x01]), Value::Int(256)));
        assert!(matches!(long(&[0; 10]), Value::Opaque(_)));
    }
}
