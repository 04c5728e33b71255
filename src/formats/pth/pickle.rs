//! A small, safe Python pickle reader: enough of the pickle virtual machine to read what
//! `torch.save` writes (protocol 2) and other plain data pickles of protocols 2 to 5.
//!
//! # Why our own
//! `serde-pickle` and its fork `pickled` stop at the persistent-id opcode (`BINPERSID`) through
//! which every torch tensor refers to its storage; `repugnant-pickle` (0.0.1, one release, pins
//! `zip` 0.6) and `candle-core`'s reader come with a framework or with no maintenance. What torch
//! needs is a few hundred lines, tested here against pickles written by Python.
//!
//! # What it does
//! It runs the opcodes below and returns the object left by `STOP` as a [`Value`] tree. Nothing
//! is ever imported or called: `GLOBAL` yields a [`Value::Global`] name, `REDUCE`/`NEWOBJ` a
//! [`Value::Object`] (callable + arguments), `BINPERSID` a [`Value::PersistentId`], `BUILD` a
//! state attached to the object. One call is recognised: `collections.OrderedDict()` (with no
//! arguments) becomes an empty [`Value::Dict`], so that `SETITEMS` can fill it as Python would;
//! state given to a dict by `BUILD` (an OrderedDict's `_metadata` attribute) is dropped.
//!
//! Opcodes: `PROTO FRAME STOP MARK POP POP_MARK DUP NONE NEWTRUE NEWFALSE BININT BININT1
//! BININT2 LONG1 LONG4 BINFLOAT BINUNICODE SHORT_BINUNICODE BINUNICODE8 BINSTRING SHORT_BINSTRING
//! BINBYTES SHORT_BINBYTES BINBYTES8 EMPTY_TUPLE TUPLE TUPLE1 TUPLE2 TUPLE3 EMPTY_LIST LIST
//! APPEND APPENDS EMPTY_DICT DICT SETITEM SETITEMS GLOBAL STACK_GLOBAL BINPERSID REDUCE BUILD
//! NEWOBJ BINPUT LONG_BINPUT MEMOIZE BINGET LONG_BINGET`. Any other opcode (the text opcodes of
//! protocol 0, sets, extension registry, out-of-band buffers) is an error naming its byte and
//! offset.
//!
//! # Sharing
//! Python's memo holds references: a dict memoised when empty and filled later is seen filled
//! by every later `BINGET`. The machine keeps containers in an arena and the memo holds handles,
//! so the same holds here. The returned tree is a copy: an object referenced twice appears
//! twice. A self-referencing pickle (a cycle) is an error, as is one that would expand to more
//! than [`tree_budget`] bytes.
//!
//! # Limits
//! Everything the machine allocates is bounded by the bytes of the pickle: a length field is
//! checked against the bytes left before anything is read; the returned tree (and every copy of
//! a shared string the machine makes while running) may take at most [`tree_budget`] bytes,
//! [`TREE_BYTES_BASE`] plus [`TREE_BYTES_PER_PICKLE_BYTE`] per byte of pickle, counted in bytes
//! and not in values, so sharing one long string many times is caught as surely as sharing one
//! container; nesting is at most [`MAX_DEPTH`] levels.

use crate::error::PickleError;
use std::collections::HashMap;

/// Bytes the returned tree (and the strings the machine copies while running) may take, besides
/// [`TREE_BYTES_PER_PICKLE_BYTE`] per byte of pickle: a pickle that shares nothing resolves to
/// well under that (a value slot is 32 bytes and every value costs at least one pickle byte),
/// one that shares a container or a string thousands of times does not.
pub const TREE_BYTES_BASE: usize = 16 << 20;

/// See [`TREE_BYTES_BASE`].
pub const TREE_BYTES_PER_PICKLE_BYTE: usize = 64;

/// The byte budget for a pickle of `len` bytes.
pub fn tree_budget(len: usize) -> usize {
    TREE_BYTES_BASE.saturating_add(len.saturating_mul(TREE_BYTES_PER_PICKLE_BYTE))
}

/// Bytes a value costs in the tree: its slot, plus what it owns on the heap outside slots.
fn cost(v: &Value) -> usize {
    std::mem::size_of::<Value>()
        + match v {
            Value::Str(s) => s.len(),
            Value::Bytes(b) => b.len(),
            Value::Global { module, name } => module.len() + name.len(),
            _ => 0,
        }
}

/// Deepest nesting of the returned tree.
pub const MAX_DEPTH: usize = 1000;

/// A Python object as read from a pickle, with nothing imported.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An int that fits in 64 bits (larger ones are an error).
    Int(i64),
    /// A float (IEEE double).
    Float(f64),
    /// A str.
    Str(String),
    /// A bytes object (or a protocol-0/1 str that is not valid UTF-8).
    Bytes(Vec<u8>),
    /// A tuple.
    Tuple(Vec<Value>),
    /// A list.
    List(Vec<Value>),
    /// A dict (or an `OrderedDict`), entries in insertion order.
    Dict(Vec<(Value, Value)>),
    /// A global name `module.name` (a class or function; never imported).
    Global {
        /// Module name.
        module: String,
        /// Attribute name.
        name: String,
    },
    /// An object made by calling `callable(*args)` (`REDUCE`, or `cls.__new__(cls, *args)` for
    /// `NEWOBJ`), with the state a later `BUILD` gave it, if any.
    Object {
        /// The callable (usually a `Global`).
        callable: Box<Value>,
        /// Its arguments (a tuple).
        args: Box<Value>,
        /// The state a later `BUILD` set, if any.
        state: Option<Box<Value>>,
    },
    /// A persistent id (`BINPERSID`): the pickler's reference to something stored outside the
    /// pickle; torch uses it for tensor storages.
    PersistentId(Box<Value>),
}

impl Value {
    /// The value at string key `key` of a dict.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(entries) => entries.iter().find_map(|(k, v)| match k {
                Value::Str(s) if s == key => Some(v),
                _ => None,
            }),
            _ => None,
        }
    }

    /// A short name of the value's kind (for error messages).
    pub fn kind(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::Tuple(_) => "tuple",
            Value::List(_) => "list",
            Value::Dict(_) => "dict",
            Value::Global { .. } => "global",
            Value::Object { .. } => "object",
            Value::PersistentId(_) => "persistent id",
        }
    }

    /// True for `Global { module, name }` with the given names.
    pub fn is_global(&self, module: &str, name: &str) -> bool {
        matches!(self, Value::Global { module: m, name: n } if m == module && n == name)
    }
}

/// The pickle name of an opcode byte, or `"unknown"`.
pub fn opcode_name(op: u8) -> &'static str {
    match op {
        b'(' => "MARK",
        b'.' => "STOP",
        b'0' => "POP",
        b'1' => "POP_MARK",
        b'2' => "DUP",
        b'F' => "FLOAT",
        b'I' => "INT",
        b'J' => "BININT",
        b'K' => "BININT1",
        b'L' => "LONG",
        b'M' => "BININT2",
        b'N' => "NONE",
        b'P' => "PERSID",
        b'Q' => "BINPERSID",
        b'R' => "REDUCE",
        b'S' => "STRING",
        b'T' => "BINSTRING",
        b'U' => "SHORT_BINSTRING",
        b'V' => "UNICODE",
        b'X' => "BINUNICODE",
        b'a' => "APPEND",
        b'b' => "BUILD",
        b'c' => "GLOBAL",
        b'd' => "DICT",
        b'}' => "EMPTY_DICT",
        b'e' => "APPENDS",
        b'g' => "GET",
        b'h' => "BINGET",
        b'i' => "INST",
        b'j' => "LONG_BINGET",
        b'l' => "LIST",
        b']' => "EMPTY_LIST",
        b'o' => "OBJ",
        b'p' => "PUT",
        b'q' => "BINPUT",
        b'r' => "LONG_BINPUT",
        b's' => "SETITEM",
        b't' => "TUPLE",
        b')' => "EMPTY_TUPLE",
        b'u' => "SETITEMS",
        b'G' => "BINFLOAT",
        0x80 => "PROTO",
        0x81 => "NEWOBJ",
        0x82 => "EXT1",
        0x83 => "EXT2",
        0x84 => "EXT4",
        0x85 => "TUPLE1",
        0x86 => "TUPLE2",
        0x87 => "TUPLE3",
        0x88 => "NEWTRUE",
        0x89 => "NEWFALSE",
        0x8a => "LONG1",
        0x8b => "LONG4",
        b'B' => "BINBYTES",
        b'C' => "SHORT_BINBYTES",
        0x8c => "SHORT_BINUNICODE",
        0x8d => "BINUNICODE8",
        0x8e => "BINBYTES8",
        0x8f => "EMPTY_SET",
        0x90 => "ADDITEMS",
        0x91 => "FROZENSET",
        0x92 => "NEWOBJ_EX",
        0x93 => "STACK_GLOBAL",
        0x94 => "MEMOIZE",
        0x95 => "FRAME",
        0x96 => "BYTEARRAY8",
        0x97 => "NEXT_BUFFER",
        0x98 => "READONLY_BUFFER",
        _ => "unknown",
    }
}

/// Reads one pickle from `data` (which must end at or after its `STOP`).
///
/// # Errors
/// [`PickleError`] for an unsupported opcode, truncated data, a malformed stack, an int beyond
/// 64 bits, a cycle, or a tree beyond [`tree_budget`] bytes / [`MAX_DEPTH`] levels.
pub fn unpickle(data: &[u8]) -> Result<Value, PickleError> {
    let mut vm = Vm {
        data,
        pos: 0,
        op_start: 0,
        op: None,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        heap: Vec::new(),
        budget: tree_budget(data.len()),
    };
    let top = vm.run()?;
    let mut budget = vm.budget;
    vm.resolve(&top, 0, &mut budget)
}

/// A stack entry: a scalar, or a handle into the arena.
#[derive(Debug, Clone)]
enum Item {
    Leaf(Value),
    Node(usize),
}

/// An arena object; containers hold items so that mutations are seen through every handle.
#[derive(Debug)]
enum Node {
    Tuple(Vec<Item>),
    List(Vec<Item>),
    Dict(Vec<(Item, Item)>),
    Object {
        callable: Item,
        args: Item,
        state: Option<Item>,
    },
    PersistentId(Item),
}

struct Vm<'a> {
    data: &'a [u8],
    pos: usize,
    op_start: usize,
    op: Option<u8>,
    stack: Vec<Item>,
    marks: Vec<usize>,
    memo: HashMap<u32, Item>,
    heap: Vec<Node>,
    /// Bytes left for copies (see [`tree_budget`]).
    budget: usize,
}

impl<'a> Vm<'a> {
    fn err(&self, message: impl Into<String>) -> PickleError {
        PickleError {
            offset: self.op_start,
            opcode: self.op,
            opcode_name: self.op.map_or("", opcode_name),
            message: message.into(),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], PickleError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        match end {
            Some(e) => {
                let s = &self.data[self.pos..e];
                self.pos = e;
                Ok(s)
            }
            None => Err(PickleError {
                offset: self.data.len(),
                opcode: self.op,
                opcode_name: self.op.map_or("", opcode_name),
                message: format!(
                    "data ends after {} bytes, {} more needed by the opcode at offset {}",
                    self.data.len(),
                    n,
                    self.op_start
                ),
            }),
        }
    }

    fn u8(&mut self) -> Result<u8, PickleError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, PickleError> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().unwrap()))
    }
    fn u32(&mut self) -> Result<u32, PickleError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn i32(&mut self) -> Result<i32, PickleError> {
        Ok(i32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn u64(&mut self) -> Result<u64, PickleError> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }

    fn len_from(&self, n: u64) -> Result<usize, PickleError> {
        usize::try_from(n).map_err(|_| self.err(format!("length {n} does not fit in memory")))
    }

    fn line(&mut self) -> Result<String, PickleError> {
        let rest = &self.data[self.pos..];
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| self.err("no newline ends the global name"))?;
        let s = std::str::from_utf8(&rest[..n])
            .map_err(|_| self.err("global name is not UTF-8"))?
            .to_string();
        self.pos += n + 1;
        Ok(s)
    }

    fn utf8(&self, b: &[u8]) -> Result<String, PickleError> {
        String::from_utf8(b.to_vec()).map_err(|e| self.err(format!("string is not UTF-8: {e}")))
    }

    /// Charges a copy of item `it` (a BINGET or DUP of a str copies it) to the budget.
    fn charge_copy(&mut self, it: &Item) -> Result<(), PickleError> {
        let c = match it {
            Item::Leaf(v) => cost(v),
            Item::Node(_) => std::mem::size_of::<Item>(),
        };
        match self.budget.checked_sub(c) {
            Some(b) => {
                self.budget = b;
                Ok(())
            }
            None => Err(self.err("copies of shared strings exceed the size budget")),
        }
    }

    fn push_node(&mut self, n: Node) {
        self.heap.push(n);
        self.stack.push(Item::Node(self.heap.len() - 1));
    }

    fn pop(&mut self) -> Result<Item, PickleError> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(self.err("stack underflow"));
        }
        Ok(self.stack.pop().unwrap())
    }

    fn top(&self) -> Result<&Item, PickleError> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(self.err("stack underflow"));
        }
        Ok(self.stack.last().unwrap())
    }

    fn pop_mark(&mut self) -> Result<Vec<Item>, PickleError> {
        let m = self
            .marks
            .pop()
            .ok_or_else(|| self.err("no MARK on the stack"))?;
        Ok(self.stack.split_off(m))
    }

    /// The arena index of the container on top of the stack (below the popped items).
    fn target(&self) -> Result<usize, PickleError> {
        match self.top()? {
            Item::Node(i) => Ok(*i),
            Item::Leaf(v) => Err(self.err(format!("expected a container, found {}", v.kind()))),
        }
    }

    fn append(&mut self, items: Vec<Item>) -> Result<(), PickleError> {
        let t = self.target()?;
        match &mut self.heap[t] {
            Node::List(l) => {
                l.extend(items);
                Ok(())
            }
            _ => Err(self.err("APPEND target is not a list")),
        }
    }

    fn set_items(&mut self, items: Vec<Item>) -> Result<(), PickleError> {
        if !items.len().is_multiple_of(2) {
            return Err(self.err(format!("odd number of items ({}) for a dict", items.len())));
        }
        let t = self.target()?;
        match &mut self.heap[t] {
            Node::Dict(d) => {
                let mut it = items.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    d.push((k, v));
                }
                Ok(())
            }
            _ => Err(self.err("SETITEM target is not a dict")),
        }
    }

    fn int(&mut self, bytes: &[u8]) -> Result<Item, PickleError> {
        // Little-endian two's complement of any length.
        if bytes.is_empty() {
            return Ok(Item::Leaf(Value::Int(0)));
        }
        if bytes.len() > 8 {
            let neg = bytes[bytes.len() - 1] & 0x80 != 0;
            let fill = if neg { 0xff } else { 0 };
            if bytes[8..].iter().any(|&b| b != fill) || ((bytes[7] & 0x80 != 0) != neg) {
                return Err(self.err(format!(
                    "int of {} bytes does not fit in 64 bits",
                    bytes.len()
                )));
            }
        }
        let n = bytes.len().min(8);
        let neg = bytes[n - 1] & 0x80 != 0;
        let mut buf = if neg { [0xffu8; 8] } else { [0u8; 8] };
        buf[..n].copy_from_slice(&bytes[..n]);
        Ok(Item::Leaf(Value::Int(i64::from_le_bytes(buf))))
    }

    fn is_ordered_dict_call(&self, callable: &Item, args: &Item) -> bool {
        let callable_ok = match callable {
            Item::Leaf(v) => v.is_global("collections", "OrderedDict"),
            Item::Node(_) => false,
        };
        let args_empty = match args {
            Item::Node(i) => matches!(&self.heap[*i], Node::Tuple(t) if t.is_empty()),
            Item::Leaf(_) => false,
        };
        callable_ok && args_empty
    }

    /// Runs the opcodes to STOP.
    ///
    /// (Over 80 lines: one `match` over the opcodes, as an interpreter's dispatch is; each arm
    /// is a few lines, and splitting the match would hide which opcodes are supported.)
    fn run(&mut self) -> Result<Item, PickleError> {
        loop {
            self.op_start = self.pos;
            self.op = None;
            let op = self.u8()?;
            self.op = Some(op);
            match op {
                0x80 => {
                    let v = self.u8()?;
                    if v > 5 {
                        return Err(self.err(format!("protocol {v} is newer than 5")));
                    }
                }
                0x95 => {
                    self.u64()?;
                }
                b'.' => {
                    let top = self.pop()?;
                    if !self.marks.is_empty() || !self.stack.is_empty() {
                        return Err(self.err("STOP with items or marks left on the stack"));
                    }
                    return Ok(top);
                }
                b'(' => self.marks.push(self.stack.len()),
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let t = self.top()?.clone();
                    self.charge_copy(&t)?;
                    self.stack.push(t);
                }
                b'N' => self.stack.push(Item::Leaf(Value::None)),
                0x88 => self.stack.push(Item::Leaf(Value::Bool(true))),
                0x89 => self.stack.push(Item::Leaf(Value::Bool(false))),
                b'J' => {
                    let v = self.i32()?;
                    self.stack.push(Item::Leaf(Value::Int(v as i64)));
                }
                b'K' => {
                    let v = self.u8()?;
                    self.stack.push(Item::Leaf(Value::Int(v as i64)));
                }
                b'M' => {
                    let v = self.u16()?;
                    self.stack.push(Item::Leaf(Value::Int(v as i64)));
                }
                0x8a => {
                    let n = self.u8()? as usize;
                    let b = self.take(n)?;
                    let it = self.int(b)?;
                    self.stack.push(it);
                }
                0x8b => {
                    let n = self.i32()?;
                    if n < 0 {
                        return Err(self.err(format!("negative length {n}")));
                    }
                    let b = self.take(n as usize)?;
                    let it = self.int(b)?;
                    self.stack.push(it);
                }
                b'G' => {
                    let b = self.take(8)?;
                    let v = f64::from_be_bytes(b.try_into().unwrap());
                    self.stack.push(Item::Leaf(Value::Float(v)));
                }
                b'X' | 0x8c | 0x8d => {
                    let n = match op {
                        b'X' => self.u32()? as u64,
                        0x8c => self.u8()? as u64,
                        _ => self.u64()?,
                    };
                    let n = self.len_from(n)?;
                    let b = self.take(n)?;
                    let s = self.utf8(b)?;
                    self.stack.push(Item::Leaf(Value::Str(s)));
                }
                b'T' | b'U' => {
                    let n = if op == b'T' {
                        let n = self.i32()?;
                        if n < 0 {
                            return Err(self.err(format!("negative length {n}")));
                        }
                        n as usize
                    } else {
                        self.u8()? as usize
                    };
                    let b = self.take(n)?;
                    let v = match std::str::from_utf8(b) {
                        Ok(s) => Value::Str(s.to_string()),
                        Err(_) => Value::Bytes(b.to_vec()),
                    };
                    self.stack.push(Item::Leaf(v));
                }
                b'B' | b'C' | 0x8e => {
                    let n = match op {
                        b'B' => self.u32()? as u64,
                        b'C' => self.u8()? as u64,
                        _ => self.u64()?,
                    };
                    let n = self.len_from(n)?;
                    let b = self.take(n)?;
                    self.stack.push(Item::Leaf(Value::Bytes(b.to_vec())));
                }
                b')' => self.push_node(Node::Tuple(Vec::new())),
                b't' => {
                    let items = self.pop_mark()?;
                    self.push_node(Node::Tuple(items));
                }
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    self.push_node(Node::Tuple(items));
                }
                b']' => self.push_node(Node::List(Vec::new())),
                b'l' => {
                    let items = self.pop_mark()?;
                    self.push_node(Node::List(items));
                }
                b'a' => {
                    let v = self.pop()?;
                    self.append(vec![v])?;
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    self.append(items)?;
                }
                b'}' => self.push_node(Node::Dict(Vec::new())),
                b'd' => {
                    let items = self.pop_mark()?;
                    self.push_node(Node::Dict(Vec::new()));
                    self.set_items(items)?;
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    self.set_items(vec![k, v])?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    self.set_items(items)?;
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.stack.push(Item::Leaf(Value::Global { module, name }));
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    match (module, name) {
                        (Item::Leaf(Value::Str(module)), Item::Leaf(Value::Str(name))) => {
                            self.stack.push(Item::Leaf(Value::Global { module, name }))
                        }
                        _ => return Err(self.err("module and name must be strings")),
                    }
                }
                b'Q' => {
                    let pid = self.pop()?;
                    self.push_node(Node::PersistentId(pid));
                }
                b'R' | 0x81 => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    if let Item::Node(i) = &args {
                        if !matches!(self.heap[*i], Node::Tuple(_)) {
                            return Err(self.err("arguments are not a tuple"));
                        }
                    } else {
                        return Err(self.err("arguments are not a tuple"));
                    }
                    if self.is_ordered_dict_call(&callable, &args) {
                        self.push_node(Node::Dict(Vec::new()));
                    } else {
                        self.push_node(Node::Object {
                            callable,
                            args,
                            state: None,
                        });
                    }
                }
                b'b' => {
                    let state = self.pop()?;
                    let t = self.target()?;
                    match &mut self.heap[t] {
                        Node::Object { state: s, .. } => *s = Some(state),
                        // An OrderedDict's attributes (torch's `_metadata`): not items, dropped.
                        Node::Dict(_) => {}
                        _ => return Err(self.err("BUILD target is not an object")),
                    }
                }
                b'q' | b'r' | 0x94 => {
                    let key = match op {
                        b'q' => self.u8()? as u32,
                        b'r' => self.u32()?,
                        _ => self.memo.len() as u32,
                    };
                    let t = self.top()?.clone();
                    self.memo.insert(key, t);
                }
                b'h' | b'j' => {
                    let key = if op == b'h' {
                        self.u8()? as u32
                    } else {
                        self.u32()?
                    };
                    let v = self
                        .memo
                        .get(&key)
                        .cloned()
                        .ok_or_else(|| self.err(format!("memo key {key} was never stored")))?;
                    self.charge_copy(&v)?;
                    self.stack.push(v);
                }
                _ => return Err(self.err(
                    "unsupported opcode (this reader handles the binary opcodes torch.save emits)",
                )),
            }
        }
    }

    fn resolve(&self, it: &Item, depth: usize, budget: &mut usize) -> Result<Value, PickleError> {
        let fail = |m: String| PickleError {
            offset: self.data.len(),
            opcode: None,
            opcode_name: "",
            message: m,
        };
        if depth > MAX_DEPTH {
            return Err(fail(format!(
                "object nesting deeper than {MAX_DEPTH} (or a self-referencing object)"
            )));
        }
        let c = match it {
            Item::Leaf(v) => cost(v),
            Item::Node(_) => std::mem::size_of::<Value>(),
        };
        *budget = budget.checked_sub(c).ok_or_else(|| {
            fail(format!(
                "object expands to more than {} bytes ({} MiB plus {} per byte of pickle)",
                tree_budget(self.data.len()),
                TREE_BYTES_BASE >> 20,
                TREE_BYTES_PER_PICKLE_BYTE
            ))
        })?;
        let i = match it {
            Item::Leaf(v) => return Ok(v.clone()),
            Item::Node(i) => *i,
        };
        let all = |v: &[Item], budget: &mut usize| -> Result<Vec<Value>, PickleError> {
            v.iter()
                .map(|x| self.resolve(x, depth + 1, budget))
                .collect()
        };
        Ok(match &self.heap[i] {
            Node::Tuple(v) => Value::Tuple(all(v, budget)?),
            Node::List(v) => Value::List(all(v, budget)?),
            Node::Dict(d) => Value::Dict(
                d.iter()
                    .map(|(k, v)| {
                        Ok((
                            self.resolve(k, depth + 1, budget)?,
                            self.resolve(v, depth + 1, budget)?,
                        ))
                    })
                    .collect::<Result<_, PickleError>>()?,
            ),
            Node::Object {
                callable,
                args,
                state,
            } => Value::Object {
                callable: Box::new(self.resolve(callable, depth + 1, budget)?),
                args: Box::new(self.resolve(args, depth + 1, budget)?),
                state: match state {
                    Some(s) => Some(Box::new(self.resolve(s, depth + 1, budget)?)),
                    None => None,
                },
            },
            Node::PersistentId(p) => {
                Value::PersistentId(Box::new(self.resolve(p, depth + 1, budget)?))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_of_any_width_decode_as_twos_complement() {
        // LONG1 with 0 to 3 and 9 bytes (the last one sign-extended, still in range).
        let cases: &[(&[u8], i64)] = &[
            (b"\x80\x02\x8a\x00.", 0),
            (b"\x80\x02\x8a\x01\xff.", -1),
            (b"\x80\x02\x8a\x02\x00\x80.", -32768),
            (b"\x80\x02\x8a\x03\x00\x80\x00.", 32768),
            (
                b"\x80\x02\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x80\xff.",
                i64::MIN,
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(unpickle(bytes).unwrap(), Value::Int(*want), "{bytes:?}");
        }
        // 2^63 needs 9 bytes and does not fit.
        let e = unpickle(b"\x80\x02\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x80\x00.").unwrap_err();
        assert!(e.message.contains("64 bits"), "{e}");
    }

    #[test]
    fn memo_shares_containers_like_python() {
        // d = {}; memo[0] = d; l = [d]; d['a'] = 1  -> the list sees the filled dict.
        // ]  (list)  } q0 (dict, memo 0)  a (append)  h0 X'a' K1 s (setitem on memo 0)  0 (pop)
        let p = b"\x80\x02]}q\x00ah\x00X\x01\x00\x00\x00aK\x01s0.";
        let v = unpickle(p).unwrap();
        assert_eq!(
            v,
            Value::List(vec![Value::Dict(vec![(
                Value::Str("a".into()),
                Value::Int(1)
            )])])
        );
    }

    #[test]
    fn a_cycle_is_an_error_not_a_hang() {
        // l = []; l.append(l)
        let e = unpickle(b"\x80\x02]q\x00h\x00a.").unwrap_err();
        assert!(e.message.contains("self-referencing"), "{e}");
    }
}
