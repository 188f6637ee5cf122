//! The two eBPF programs of `--cgroup`, assembled here from the settings: no BPF compiler, no
//! object file. Pure: this module only builds instruction sequences.
//!
//! `sock_ops` runs at `TCP_CONNECT_CB` (before the SYN) and `PASSIVE_ESTABLISHED_CB` (an accepted
//! connection), tests side and peer rules, and calls `bpf_setsockopt` for each option. Under
//! `--force` it also marks the socket in a socket-storage map, and `setsockopt` (a
//! `cgroup/setsockopt` program) rewrites a valid value the program sets for a configured option
//! on a marked socket into ours, leaving an invalid one for the kernel to refuse.

use keepalive_config::rules::Rule;
use keepalive_config::{Settings, Side};

/// One eBPF instruction, as the kernel reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Instruction {
    pub code: u8,
    /// Destination register in the low four bits, source register in the high four.
    pub registers: u8,
    pub offset: i16,
    pub immediate: i32,
}

// Instruction classes, sizes, modes and operations (include/uapi/linux/bpf.h, bpf_common.h).
const LDX: u8 = 0x01;
const ST: u8 = 0x02;
const STX: u8 = 0x03;
const JMP: u8 = 0x05;
const JMP32: u8 = 0x06;
const ALU32: u8 = 0x04;
const ALU64: u8 = 0x07;
const WORD: u8 = 0x00;
const DOUBLE: u8 = 0x18;
const MEM: u8 = 0x60;
const REGISTER_SOURCE: u8 = 0x08;
const ADD: u8 = 0x00;
const AND: u8 = 0x50;
const MOV: u8 = 0xb0;
const JA: u8 = 0x00;
const JEQ: u8 = 0x10;
const JGT: u8 = 0x20;
const JNE: u8 = 0x50;
const JSGT: u8 = 0x60;
const JSLT: u8 = 0xc0;
const CALL: u8 = 0x80;
const EXIT: u8 = 0x90;
/// `BPF_LD | BPF_IMM | BPF_DW`, a 64-bit constant over two instructions.
const LOAD_DOUBLE_IMMEDIATE: u8 = 0x18;
/// In the source register of a 64-bit constant: the constant is a map descriptor.
const PSEUDO_MAP_FD: u8 = 1;

pub const R0: u8 = 0;
pub const R1: u8 = 1;
pub const R2: u8 = 2;
pub const R3: u8 = 3;
pub const R4: u8 = 4;
pub const R5: u8 = 5;
pub const R6: u8 = 6;
/// The frame pointer: the stack lies below it.
pub const R10: u8 = 10;

// Helper functions, by number.
const SETSOCKOPT: i32 = 49;
const GETSOCKOPT: i32 = 57;
const SK_STORAGE_GET: i32 = 107;
const SK_STORAGE_GET_F_CREATE: i32 = 1;

// struct bpf_sock_ops.
const OPS_OP: i16 = 0;
const OPS_FAMILY: i16 = 20;
const OPS_REMOTE_IP4: i16 = 24;
const OPS_REMOTE_IP6: i16 = 32;
const OPS_REMOTE_PORT: i16 = 64;
const OPS_SK: i16 = 184;
const TCP_CONNECT_CB: i32 = 3;
const PASSIVE_ESTABLISHED_CB: i32 = 5;

// struct bpf_sockopt.
const SOCKOPT_SK: i16 = 0;
const SOCKOPT_OPTVAL: i16 = 8;
const SOCKOPT_OPTVAL_END: i16 = 16;
const SOCKOPT_LEVEL: i16 = 24;
const SOCKOPT_OPTNAME: i16 = 28;
const SOCKOPT_OPTLEN: i16 = 32;

// Stack slots below R10: the peer's address as four words, its port, one option value.
const PEER_ADDRESS: i16 = -16;
const PEER_PORT: i16 = -20;
const OPTION_VALUE: i16 = -24;

/// A place in the program that jumps go to, bound once.
#[derive(Clone, Copy)]
struct Label(usize);

/// Instructions with jumps to labels, resolved by `finish`.
#[derive(Default)]
struct Assembler {
    instructions: Vec<Instruction>,
    labels: Vec<Option<usize>>,
    jumps: Vec<(usize, Label)>,
}

impl Assembler {
    fn emit(&mut self, code: u8, destination: u8, source: u8, offset: i16, immediate: i32) {
        self.instructions.push(Instruction { code, registers: destination | source << 4, offset, immediate });
    }

    fn label(&mut self) -> Label {
        self.labels.push(None);
        Label(self.labels.len() - 1)
    }

    fn bind(&mut self, label: Label) {
        self.labels[label.0] = Some(self.instructions.len());
    }

    fn mov_register(&mut self, destination: u8, source: u8) {
        self.emit(ALU64 | MOV | REGISTER_SOURCE, destination, source, 0, 0);
    }

    fn mov(&mut self, destination: u8, value: i32) {
        self.emit(ALU64 | MOV, destination, 0, 0, value);
    }

    fn add(&mut self, destination: u8, value: i32) {
        self.emit(ALU64 | ADD, destination, 0, 0, value);
    }

    fn and32(&mut self, destination: u8, mask: u32) {
        self.emit(ALU32 | AND, destination, 0, 0, mask as i32);
    }

    fn load_word(&mut self, destination: u8, base: u8, offset: i16) {
        self.emit(LDX | MEM | WORD, destination, base, offset, 0);
    }

    fn load_double(&mut self, destination: u8, base: u8, offset: i16) {
        self.emit(LDX | MEM | DOUBLE, destination, base, offset, 0);
    }

    fn store_word(&mut self, base: u8, offset: i16, value: u32) {
        self.emit(ST | MEM | WORD, base, 0, offset, value as i32);
    }

    fn store_word_register(&mut self, base: u8, offset: i16, source: u8) {
        self.emit(STX | MEM | WORD, base, source, offset, 0);
    }

    /// `register = map`, the map given by its descriptor.
    fn load_map(&mut self, destination: u8, map_fd: i32) {
        self.emit(LOAD_DOUBLE_IMMEDIATE, destination, PSEUDO_MAP_FD, 0, map_fd);
        self.emit(0, 0, 0, 0, 0);
    }

    /// A jump when `register OP value` (32-bit comparison with `class` JMP32, 64-bit with JMP).
    fn jump_if(&mut self, class: u8, operation: u8, register: u8, value: i32, target: Label) {
        self.jumps.push((self.instructions.len(), target));
        self.emit(class | operation, register, 0, 0, value);
    }

    fn jump_if_registers(&mut self, operation: u8, left: u8, right: u8, target: Label) {
        self.jumps.push((self.instructions.len(), target));
        self.emit(JMP | operation | REGISTER_SOURCE, left, right, 0, 0);
    }

    fn jump(&mut self, target: Label) {
        self.jump_if(JMP, JA, 0, 0, target);
    }

    fn call(&mut self, helper: i32) {
        self.emit(JMP | CALL, 0, 0, 0, helper);
    }

    /// `return 1`: for both program types, carry on as the kernel would.
    fn return_one(&mut self) {
        self.mov(R0, 1);
        self.emit(JMP | EXIT, 0, 0, 0, 0);
    }

    fn finish(mut self) -> Vec<Instruction> {
        for &(at, label) in &self.jumps {
            let target = self.labels[label.0].expect("every label is bound");
            self.instructions[at].offset = (target as isize - at as isize - 1) as i16;
        }
        self.instructions
    }
}

/// An option the programs set, with the values `setsockopt` would accept for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SocketOption {
    pub level: i32,
    pub name: i32,
    pub value: u32,
    /// The kernel's range for the option, as signed integers; outside it, the kernel says EINVAL.
    pub valid: (i32, i32),
}

/// The options `settings` configure, `SO_KEEPALIVE` first.
pub fn socket_options(settings: &Settings) -> Vec<SocketOption> {
    let tcp = |name, value: Option<u32>, valid| {
        value.map(|value| SocketOption { level: libc::IPPROTO_TCP, name, value, valid })
    };
    [
        Some(SocketOption { level: libc::SOL_SOCKET, name: libc::SO_KEEPALIVE, value: 1, valid: (i32::MIN, i32::MAX) }),
        tcp(libc::TCP_KEEPIDLE, settings.idle, (1, 32767)),
        tcp(libc::TCP_KEEPINTVL, settings.interval, (1, 32767)),
        tcp(libc::TCP_KEEPCNT, settings.count, (1, 127)),
        tcp(libc::TCP_USER_TIMEOUT, settings.user_timeout_ms, (0, i32::MAX)),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// A rule as the program tests it: the peer's address as four 32-bit words in memory order,
/// each masked, and the port as `remote_port` holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct RuleTest {
    /// (mask, masked value) per word; a zero mask is not tested.
    words: [(u32, u32); 4],
    port: Option<u32>,
}

impl RuleTest {
    fn new(rule: &Rule) -> RuleTest {
        let address = rule.address();
        let mask = u128::MAX.checked_shl(128 - u32::from(rule.prefix())).unwrap_or(0).to_be_bytes();
        let word = |bytes: &[u8; 16], index: usize| {
            u32::from_ne_bytes([bytes[index * 4], bytes[index * 4 + 1], bytes[index * 4 + 2], bytes[index * 4 + 3]])
        };
        let words = std::array::from_fn(|index| (word(&mask, index), word(&address, index) & word(&mask, index)));
        // remote_port holds the port in network byte order in its high half, which ntohl turns
        // into the port: the word is htonl(port).
        RuleTest { words, port: rule.port().map(|port| u32::from(port).to_be()) }
    }

    /// Whether every peer passes (`::/0`): the test has no jump, and code after it would be
    /// unreachable, which the verifier refuses.
    fn always(&self) -> bool {
        self.port.is_none() && self.words.iter().all(|&(mask, _)| mask == 0)
    }
}

/// Jumps to `mismatch` unless the peer on the stack passes `test`.
fn emit_rule(assembler: &mut Assembler, test: &RuleTest, mismatch: Label) {
    for (index, &(mask, value)) in test.words.iter().enumerate() {
        if mask == 0 {
            continue;
        }
        assembler.load_word(R2, R10, PEER_ADDRESS + 4 * index as i16);
        if mask != u32::MAX {
            assembler.and32(R2, mask);
        }
        assembler.jump_if(JMP32, JNE, R2, value as i32, mismatch);
    }
    if let Some(port) = test.port {
        assembler.load_word(R2, R10, PEER_PORT);
        assembler.jump_if(JMP32, JNE, R2, port as i32, mismatch);
    }
}

/// Puts the peer's address (IPv4 as `::ffff:a.b.c.d`, as the rules keep it) and port on the
/// stack; jumps to `other` for a family that is neither.
fn emit_peer(assembler: &mut Assembler, other: Label) {
    let (ipv6, ready) = (assembler.label(), assembler.label());
    assembler.load_word(R2, R6, OPS_FAMILY);
    assembler.jump_if(JMP, JEQ, R2, libc::AF_INET6, ipv6);
    assembler.jump_if(JMP, JNE, R2, libc::AF_INET, other);
    assembler.store_word(R10, PEER_ADDRESS, 0);
    assembler.store_word(R10, PEER_ADDRESS + 4, 0);
    assembler.store_word(R10, PEER_ADDRESS + 8, u32::from_ne_bytes([0, 0, 0xff, 0xff]));
    assembler.load_word(R2, R6, OPS_REMOTE_IP4);
    assembler.store_word_register(R10, PEER_ADDRESS + 12, R2);
    assembler.jump(ready);
    assembler.bind(ipv6);
    for index in 0..4 {
        assembler.load_word(R2, R6, OPS_REMOTE_IP6 + 4 * index);
        assembler.store_word_register(R10, PEER_ADDRESS + 4 * index, R2);
    }
    assembler.bind(ready);
    assembler.load_word(R2, R6, OPS_REMOTE_PORT);
    assembler.store_word_register(R10, PEER_PORT, R2);
}

/// `r1 = ctx; r2 = level; r3 = name; r4 = &value on the stack; r5 = 4`, the arguments of
/// `bpf_setsockopt` and `bpf_getsockopt`.
fn emit_option_arguments(assembler: &mut Assembler, level: i32, name: i32) {
    assembler.mov_register(R1, R6);
    assembler.mov(R2, level);
    assembler.mov(R3, name);
    assembler.mov_register(R4, R10);
    assembler.add(R4, i32::from(OPTION_VALUE));
    assembler.mov(R5, 4);
}

/// The `sock_ops` program. `marks` is the socket-storage map of `--force`, in which it marks
/// each socket it configured.
pub fn sock_ops(settings: &Settings, marks: Option<i32>) -> Vec<Instruction> {
    let mut assembler = Assembler::default();
    let only: Vec<RuleTest> = settings.only.rules().iter().map(RuleTest::new).collect();
    let skip: Vec<RuleTest> = settings.skip.rules().iter().map(RuleTest::new).collect();
    if skip.iter().any(RuleTest::always) {
        assembler.return_one();
        return assembler.finish();
    }
    let only = (settings.only.configured && !only.iter().any(RuleTest::always)).then_some(only);
    let (done, chosen) = (assembler.label(), assembler.label());
    assembler.mov_register(R6, R1);
    assembler.load_word(R2, R6, OPS_OP);
    match settings.side {
        Side::Both => {
            assembler.jump_if(JMP, JEQ, R2, TCP_CONNECT_CB, chosen);
            assembler.jump_if(JMP, JNE, R2, PASSIVE_ESTABLISHED_CB, done);
        }
        Side::Client => assembler.jump_if(JMP, JNE, R2, TCP_CONNECT_CB, done),
        Side::Server => assembler.jump_if(JMP, JNE, R2, PASSIVE_ESTABLISHED_CB, done),
    }
    assembler.bind(chosen);
    if only.is_some() || !skip.is_empty() {
        emit_peer(&mut assembler, done);
    }
    if let Some(only) = &only {
        let selected = assembler.label();
        for rule in only {
            let next = assembler.label();
            emit_rule(&mut assembler, rule, next);
            assembler.jump(selected);
            assembler.bind(next);
        }
        assembler.jump(done);
        assembler.bind(selected);
    }
    for rule in &skip {
        let next = assembler.label();
        emit_rule(&mut assembler, rule, next);
        assembler.jump(done);
        assembler.bind(next);
    }
    if marks.is_none() {
        // The program's own choice wins: keepalive it turned on before connect() is left as is.
        let configure = assembler.label();
        assembler.store_word(R10, OPTION_VALUE, 0);
        emit_option_arguments(&mut assembler, libc::SOL_SOCKET, libc::SO_KEEPALIVE);
        assembler.call(GETSOCKOPT);
        assembler.jump_if(JMP, JNE, R0, 0, configure);
        assembler.load_word(R2, R10, OPTION_VALUE);
        assembler.jump_if(JMP32, JNE, R2, 0, done);
        assembler.bind(configure);
    }
    for option in socket_options(settings) {
        assembler.store_word(R10, OPTION_VALUE, option.value);
        emit_option_arguments(&mut assembler, option.level, option.name);
        assembler.call(SETSOCKOPT);
    }
    if let Some(map) = marks {
        assembler.load_double(R2, R6, OPS_SK);
        assembler.jump_if(JMP, JEQ, R2, 0, done);
        assembler.load_map(R1, map);
        assembler.mov(R3, 0);
        assembler.mov(R4, SK_STORAGE_GET_F_CREATE);
        assembler.call(SK_STORAGE_GET);
    }
    assembler.bind(done);
    assembler.return_one();
    assembler.finish()
}

/// The `cgroup/setsockopt` program of `--force`: on a socket marked in `marks`, a value the
/// kernel would accept for a configured option becomes ours before the kernel applies it; any
/// other call passes unchanged, so the kernel's own checks and errors stay as they are.
pub fn setsockopt(settings: &Settings, marks: i32) -> Vec<Instruction> {
    let mut assembler = Assembler::default();
    let pass = assembler.label();
    assembler.mov_register(R6, R1);
    assembler.load_double(R2, R6, SOCKOPT_SK);
    assembler.load_map(R1, marks);
    assembler.mov(R3, 0);
    assembler.mov(R4, 0);
    assembler.call(SK_STORAGE_GET);
    assembler.jump_if(JMP, JEQ, R0, 0, pass);
    assembler.load_word(R2, R6, SOCKOPT_OPTLEN);
    assembler.jump_if(JMP32, JSLT, R2, 4, pass);
    assembler.load_double(R1, R6, SOCKOPT_OPTVAL);
    assembler.load_double(R3, R6, SOCKOPT_OPTVAL_END);
    assembler.mov_register(R4, R1);
    assembler.add(R4, 4);
    assembler.jump_if_registers(JGT, R4, R3, pass);
    assembler.load_word(R2, R6, SOCKOPT_LEVEL);
    assembler.load_word(R3, R6, SOCKOPT_OPTNAME);
    assembler.load_word(R4, R1, 0);
    for option in socket_options(settings) {
        let next = assembler.label();
        assembler.jump_if(JMP32, JNE, R2, option.level, next);
        assembler.jump_if(JMP32, JNE, R3, option.name, next);
        let (low, high) = option.valid;
        if low != i32::MIN {
            assembler.jump_if(JMP32, JSLT, R4, low, pass);
        }
        if high != i32::MAX {
            assembler.jump_if(JMP32, JSGT, R4, high, pass);
        }
        assembler.store_word(R1, 0, option.value);
        assembler.jump(pass);
        assembler.bind(next);
    }
    assembler.bind(pass);
    assembler.return_one();
    assembler.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use keepalive_config::rules::parse_rules;

    fn instruction(code: u8, destination: u8, source: u8, offset: i16, immediate: i32) -> Instruction {
        Instruction { code, registers: destination | source << 4, offset, immediate }
    }

    fn settings(configure: impl FnOnce(&mut Settings)) -> Settings {
        let mut settings = Settings::DEFAULT;
        configure(&mut settings);
        settings
    }

    #[test]
    fn encodes_as_the_kernel_reads() {
        assert_eq!(std::mem::size_of::<Instruction>(), 8);
        let mut assembler = Assembler::default();
        let end = assembler.label();
        assembler.mov_register(R6, R1);
        assembler.jump_if(JMP32, JNE, R2, 0x1bd, end);
        assembler.load_map(R1, 7);
        assembler.bind(end);
        assembler.return_one();
        assert_eq!(
            assembler.finish(),
            [
                instruction(0xbf, 6, 1, 0, 0),
                instruction(0x56, 2, 0, 2, 0x1bd),
                instruction(0x18, 1, 1, 0, 7),
                instruction(0, 0, 0, 0, 0),
                instruction(0xb7, 0, 0, 0, 1),
                instruction(0x95, 0, 0, 0, 0),
            ]
        );
    }

    #[test]
    fn timers_only_at_connect_and_accept() {
        let program = sock_ops(&settings(|s| s.idle = Some(20)), None);
        let expected = [
            instruction(0xbf, 6, 1, 0, 0),                       // r6 = ctx
            instruction(0x61, 2, 6, 0, 0),                       // r2 = ctx->op
            instruction(0x15, 2, 0, 1, TCP_CONNECT_CB),          // connect: go on
            instruction(0x55, 2, 0, 27, PASSIVE_ESTABLISHED_CB), // not accept either: done
            instruction(0x62, 10, 0, -24, 0),                    // value = 0
            instruction(0xbf, 1, 6, 0, 0),
            instruction(0xb7, 2, 0, 0, libc::SOL_SOCKET),
            instruction(0xb7, 3, 0, 0, libc::SO_KEEPALIVE),
            instruction(0xbf, 4, 10, 0, 0),
            instruction(0x07, 4, 0, 0, -24),
            instruction(0xb7, 5, 0, 0, 4),
            instruction(0x85, 0, 0, 0, GETSOCKOPT),
            instruction(0x55, 0, 0, 2, 0), // getsockopt failed: configure
            instruction(0x61, 2, 10, -24, 0),
            instruction(0x56, 2, 0, 16, 0),   // keepalive already on: done
            instruction(0x62, 10, 0, -24, 1), // SO_KEEPALIVE = 1
            instruction(0xbf, 1, 6, 0, 0),
            instruction(0xb7, 2, 0, 0, libc::SOL_SOCKET),
            instruction(0xb7, 3, 0, 0, libc::SO_KEEPALIVE),
            instruction(0xbf, 4, 10, 0, 0),
            instruction(0x07, 4, 0, 0, -24),
            instruction(0xb7, 5, 0, 0, 4),
            instruction(0x85, 0, 0, 0, SETSOCKOPT),
            instruction(0x62, 10, 0, -24, 20), // TCP_KEEPIDLE = 20
            instruction(0xbf, 1, 6, 0, 0),
            instruction(0xb7, 2, 0, 0, libc::IPPROTO_TCP),
            instruction(0xb7, 3, 0, 0, libc::TCP_KEEPIDLE),
            instruction(0xbf, 4, 10, 0, 0),
            instruction(0x07, 4, 0, 0, -24),
            instruction(0xb7, 5, 0, 0, 4),
            instruction(0x85, 0, 0, 0, SETSOCKOPT),
            instruction(0xb7, 0, 0, 0, 1),
            instruction(0x95, 0, 0, 0, 0),
        ];
        assert_eq!(program, expected);
    }

    #[test]
    fn one_side_tests_one_callback() {
        let client = sock_ops(&settings(|s| s.side = Side::Client), None);
        assert_eq!(client[2], instruction(0x55, 2, 0, client.len() as i16 - 5, TCP_CONNECT_CB));
        let server = sock_ops(&settings(|s| s.side = Side::Server), None);
        assert_eq!(server[2], instruction(0x55, 2, 0, server.len() as i16 - 5, PASSIVE_ESTABLISHED_CB));
    }

    #[test]
    fn rules_test_masked_words_and_the_port_as_remote_port_holds_it() {
        let rules = parse_rules(b"10.0.0.0/8:443", |_| panic!());
        let test = RuleTest::new(&rules.rules()[0]);
        let ffff = u32::from_ne_bytes([0, 0, 0xff, 0xff]);
        assert_eq!(test.words[0], (u32::MAX, 0));
        assert_eq!(test.words[2], (u32::MAX, ffff));
        assert_eq!(test.words[3], (u32::from_ne_bytes([0xff, 0, 0, 0]), u32::from_ne_bytes([10, 0, 0, 0])));
        assert_eq!(test.port, Some(u32::from_ne_bytes([0, 0, 0x01, 0xbb])));
        let any = RuleTest::new(&parse_rules(b":22", |_| panic!()).rules()[0]);
        assert!(any.words.iter().all(|&(mask, _)| mask == 0));
        let mut program = Assembler::default();
        let miss = program.label();
        emit_rule(&mut program, &any, miss);
        program.bind(miss);
        assert_eq!(
            program.finish(),
            [instruction(0x61, 2, 10, PEER_PORT, 0), instruction(0x56, 2, 0, 0, u32::from(22u16).to_be() as i32)]
        );
    }

    #[test]
    fn a_rule_every_peer_passes_has_no_test() {
        let every = |text: &[u8]| parse_rules(text, |_| panic!());
        let skip_all = sock_ops(&settings(|s| s.skip = every(b"::/0")), None);
        assert_eq!(skip_all, [instruction(0xb7, 0, 0, 0, 1), instruction(0x95, 0, 0, 0, 0)]);
        let only_all = sock_ops(&settings(|s| s.only = every(b"10.0.0.0/8,::/0")), None);
        assert_eq!(only_all, sock_ops(&Settings::DEFAULT, None), "--only ::/0 selects every peer");
    }

    #[test]
    fn force_marks_instead_of_asking() {
        let program = sock_ops(&Settings::DEFAULT, Some(5));
        assert!(!program.contains(&instruction(0x85, 0, 0, 0, GETSOCKOPT)));
        assert!(program.contains(&instruction(0x18, 1, 1, 0, 5)));
        assert!(program.contains(&instruction(0x85, 0, 0, 0, SK_STORAGE_GET)));
    }

    #[test]
    fn setsockopt_leaves_invalid_values_to_the_kernel() {
        let program = setsockopt(&settings(|s| s.count = Some(3)), 5);
        let count_test = program.iter().position(|i| *i == instruction(0x56, 3, 0, 4, libc::TCP_KEEPCNT)).unwrap();
        let pass = program.len() - 2;
        let to_pass = |at: usize| (pass - at - 1) as i16;
        assert_eq!(program[count_test + 1], instruction(0xc6, 4, 0, to_pass(count_test + 1), 1));
        assert_eq!(program[count_test + 2], instruction(0x66, 4, 0, to_pass(count_test + 2), 127));
        assert_eq!(program[count_test + 3], instruction(0x62, 1, 0, 0, 3));
    }
}
