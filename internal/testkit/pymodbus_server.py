"""Serve a fixed Modbus register map with pymodbus, for esep's tests.

internal/testkit/modbus.go embeds this file, writes it to the test's
temporary directory and runs it with a Python that can import Debian's
python3-pymodbus (3.0.0rc1). It serves exactly the map in the JSON file:

    {"1": {"holding": {"100": 7}, "input": {}, "coils": {"0": true},
           "discrete": {}}}

Keys of the outer object are unit ids; keys inside are PDU addresses.
"""

import argparse
import asyncio
import json
import sys

from pymodbus.datastore import (
    ModbusServerContext,
    ModbusSlaveContext,
    ModbusSparseDataBlock,
)
from pymodbus.server import StartAsyncSerialServer, StartAsyncTcpServer
from pymodbus.transaction import ModbusRtuFramer, ModbusSocketFramer


def block(table):
    """Return a sparse block holding exactly the given addresses.

    An empty table still needs a block: ModbusSlaveContext fills a missing
    one with 65536 zeros, and every address would then answer.
    """
    return ModbusSparseDataBlock({int(a): v for a, v in (table or {}).items()})


def unit_context(regs):
    """Return the data of one unit, addressed as on the wire.

    zero_mode=True because the default (False) adds 1 to every request
    address before it looks in the block, so PDU address N would read
    block entry N+1.
    """
    return ModbusSlaveContext(
        hr=block(regs.get("holding")),
        ir=block(regs.get("input")),
        co=block(regs.get("coils")),
        di=block(regs.get("discrete")),
        zero_mode=True,
    )


def server_context(path):
    """Return the context of every unit in the JSON map at path."""
    with open(path, encoding="utf-8") as f:
        units = json.load(f)
    slaves = {int(u): unit_context(r or {}) for u, r in units.items()}
    # single=False keeps units apart; with single=True every unit id
    # would be answered from one shared context.
    return ModbusServerContext(slaves=slaves, single=False)


def announce(ready):
    """Tell the test, through a file and the log, that requests are served."""
    if ready:
        with open(ready, "w", encoding="utf-8") as f:
            f.write("ready\n")
    print("ready", flush=True)


async def serve_tcp(args, context):
    """Serve on a loopback TCP port until killed."""
    server = await StartAsyncTcpServer(
        context=context,
        framer=ModbusSocketFramer,
        address=("127.0.0.1", args.port),
        defer_start=True,
        # A restart binds the port again while connections of the
        # killed server are still in TIME_WAIT.
        allow_reuse_address=True,
        # Unknown units get no reply, as on a serial bus; without this,
        # pymodbus replies with exception 0x0B when the map holds unit 0
        # or 255, and its framer therefore lets every unit id through.
        ignore_missing_slaves=True,
    )
    task = asyncio.create_task(server.serve_forever())
    # serving is never set when the bind fails; the task then holds
    # the error.
    await asyncio.wait([task, server.serving], return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()
    announce(args.ready)
    await task


async def serve_rtu(args, context):
    """Serve RTU frames on a serial device until killed."""
    server = await StartAsyncSerialServer(
        context=context,
        # StartAsyncSerialServer defaults to the ASCII framer.
        framer=ModbusRtuFramer,
        port=args.device,
        baudrate=args.baud,
        bytesize=8,
        parity="N",
        stopbits=1,
        defer_start=True,
        ignore_missing_slaves=True,
    )
    await server.start()
    # start() logs and swallows errors other than SerialException.
    if server.transport is None:
        sys.exit(f"cannot open serial device {args.device!r}")
    announce(args.ready)
    await server.serve_forever()


def main():
    """Parse the arguments and serve until killed."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--map", required=True, help="JSON register map")
    p.add_argument("--port", type=int, help="TCP port on 127.0.0.1")
    p.add_argument("--device", help="serial device for RTU")
    p.add_argument("--baud", type=int, default=9600)
    p.add_argument("--ready", help="file to create once serving")
    args = p.parse_args()

    # No logging set-up here: importing pymodbus.constants already called
    # logging.basicConfig (WARNING, to stderr), and a second call is a no-op.
    context = server_context(args.map)
    if args.device:
        asyncio.run(serve_rtu(args, context))
    elif args.port:
        asyncio.run(serve_tcp(args, context))
    else:
        p.error("give --port or --device")


if __name__ == "__main__":
    main()
