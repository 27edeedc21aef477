package commission

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/esep-kz/esep/drivers/modbus"
)

// functions are the values -function accepts: the read function codes
// and the names profiles give their tables.
var functions = map[string]modbus.Function{
	"1": modbus.FuncCoils, "2": modbus.FuncDiscrete, "3": modbus.FuncHolding, "4": modbus.FuncInput,
	string(modbus.Coils): modbus.FuncCoils, string(modbus.Discrete): modbus.FuncDiscrete,
	string(modbus.Holding): modbus.FuncHolding, string(modbus.Input): modbus.FuncInput,
}

// modiconPrefix is the first digit of a Modicon address of each table.
var modiconPrefix = map[modbus.Function]int{
	modbus.FuncCoils: 0, modbus.FuncDiscrete: 1, modbus.FuncInput: 3, modbus.FuncHolding: 4,
}

// regFlags are the flags that name a range of one slave's registers or
// bits: what read reads and what scan probes with.
type regFlags struct {
	function string
	address  string
	base     string
	count    int
}

// declareRegisters declares the register flags on fs.
func declareRegisters(fs *flag.FlagSet) *regFlags {
	r := &regFlags{}
	fs.StringVar(&r.function, "function", "3",
		"read function: 1 (coils), 2 (discrete), 3 (holding) or 4 (input)")
	fs.StringVar(&r.address, "address", "0",
		"first address, decimal or 0x hex, written in the notation of -base")
	fs.StringVar(&r.base, "base", string(modbus.PDU),
		"notation of -address: pdu (0-based, as on the wire), register (1-based, wire = n-1) "+
			"or modicon (40001 is holding register 0; it also names the table)")
	fs.IntVar(&r.count, "count", 1, "how many registers or bits to read")
	return r
}

// span is a checked range of one table of a slave.
type span struct {
	fn    modbus.Function
	addr  uint16 // first address as on the wire
	count uint16
	base  modbus.Addressing
}

// check checks the flags once parsed; set holds the flags given.
func (r *regFlags) check(set map[string]bool) (span, error) {
	fn, ok := functions[strings.ToLower(r.function)]
	if !ok {
		return span{}, usagef("-function %q is not one of 1 (coils), 2 (discrete), "+
			"3 (holding), 4 (input)", r.function)
	}
	base := modbus.Addressing(strings.ToLower(r.base))
	if base != modbus.PDU && base != modbus.Numbered && base != modbus.Modicon {
		return span{}, usagef("-base %q is not one of pdu, register, modicon", r.base)
	}

	n, err := parseAddress(r.address)
	if err != nil {
		return span{}, usagef("-address %q is not a decimal or 0x hex number", r.address)
	}
	wire, table, err := base.Wire(n)
	if err != nil {
		return span{}, usagef("-address %q with -base %s: %w", r.address, base, err)
	}
	if table != "" {
		tableFn := modbus.Function(table.Code())
		if set["function"] && tableFn != fn {
			return span{}, usagef("-address %s is in the %s (modicon), but -function %s reads %s",
				r.address, tableFn, r.function, fn)
		}
		fn = tableFn
	}

	s := span{fn: fn, addr: wire, base: base}
	if err := s.setCount(r.count); err != nil {
		return span{}, err
	}
	return s, nil
}

// setCount checks count against the function's limit and the end of
// the address space.
func (s *span) setCount(count int) error {
	// A reply must fit a 253-byte PDU: 2000 bits or 125 registers
	// (application protocol V1.1b3 §6.1–6.4).
	most := 125
	if s.bits() {
		most = 2000
	}
	switch {
	case count < 1 || count > most:
		return usagef("-count %d is outside 1..%d, the most one request of %s may read",
			count, most, s.fn)
	case int(s.addr)+count > 1<<16:
		return usagef("-count %d from wire address %d runs past address 65535", count, s.addr)
	}
	s.count = uint16(count)
	return nil
}

// parseAddress parses a decimal or 0x hex number. Leading zeros are
// decimal, not octal: 00001 is the Modicon number of coil 0.
func parseAddress(s string) (int, error) {
	digits, numBase := s, 10
	if rest, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		digits, numBase = rest, 16
	}
	// 31 bits fit an int on the 32-bit ARM boxes as well.
	n, err := strconv.ParseUint(digits, numBase, 31)
	return int(n), err
}

// bits reports whether the span reads coils or discrete inputs.
func (s span) bits() bool { return isBits(s.fn) }

func isBits(fn modbus.Function) bool {
	return fn == modbus.FuncCoils || fn == modbus.FuncDiscrete
}

// String names the span by wire address, as in "holding registers 0x0002+2".
func (s span) String() string {
	return modbus.Block{Func: byte(s.fn), Addr: s.addr, Count: s.count}.String()
}

// label writes the wire address wire in the span's notation.
func (s span) label(wire uint16) string {
	switch s.base {
	case modbus.Numbered:
		return strconv.Itoa(int(wire) + 1)
	case modbus.Modicon:
		return modicon(s.fn, wire)
	}
	return strconv.Itoa(int(wire))
}

// notations writes wire address wire in all three notations, so that an
// engineer can match it with the register map at hand.
func (s span) notations(wire uint16) string {
	return fmt.Sprintf("pdu %d = register %d = modicon %s", wire, int(wire)+1, modicon(s.fn, wire))
}

// modicon writes a wire address of fn's table as a Modicon number: five
// digits while the table's 9999 fit, six beyond.
func modicon(fn modbus.Function, wire uint16) string {
	n := int(wire) + 1
	if n <= 9999 {
		return fmt.Sprintf("%d%04d", modiconPrefix[fn], n)
	}
	return fmt.Sprintf("%d%05d", modiconPrefix[fn], n)
}

// readWords reads count registers or bits of table fn of slave from
// wire address addr on. Bits come back one word each, 0 or 1, as
// modbus.BlockReader wants them, so that every caller has one reader.
func readWords(ctx context.Context, c *modbus.Client, slave byte, fn modbus.Function,
	addr, count uint16) ([]uint16, error) {
	if !isBits(fn) {
		return c.ReadRegisters(ctx, slave, fn, addr, count)
	}

	bits, err := c.ReadBits(ctx, slave, fn, addr, count)
	if err != nil {
		return nil, err
	}
	words := make([]uint16, len(bits))
	for i, b := range bits {
		if b {
			words[i] = 1
		}
	}
	return words, nil
}
