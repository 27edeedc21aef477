package modbus

import (
	"errors"
	"fmt"
	"testing"

	goburrow "github.com/goburrow/modbus"
)

func TestExceptionCodes(t *testing.T) {
	tests := []struct {
		code  ExceptionCode
		name  string
		class ExceptionClass
	}{
		{IllegalFunction, "illegal function", ClassPermanent},
		{IllegalDataAddress, "illegal data address", ClassPermanent},
		{IllegalDataValue, "illegal data value", ClassPermanent},
		{ServerDeviceFailure, "server device failure", ClassDeviceFailure},
		{Acknowledge, "acknowledge", ClassBusy},
		{ServerDeviceBusy, "server device busy", ClassBusy},
		{7, "unknown exception 7", ClassUnknown},
		{MemoryParityError, "memory parity error", ClassDeviceFailure},
		{GatewayPathUnavailable, "gateway path unavailable", ClassGatewayConfig},
		{GatewayTargetFailedToRespond, "gateway target failed to respond", ClassGatewayTransient},
		{12, "unknown exception 12", ClassUnknown},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("code %d", tt.code), func(t *testing.T) {
			if got := tt.code.String(); got != tt.name {
				t.Errorf("String() = %q, want %q", got, tt.name)
			}
			err := &ExceptionError{Function: FuncHolding, Code: tt.code}
			if got := err.Class(); got != tt.class {
				t.Errorf("Class() = %v, want %v", got, tt.class)
			}
		})
	}
}

func TestFromGoburrow(t *testing.T) {
	tests := []struct {
		name     string
		in       error
		wantIs   error
		wantCode ExceptionCode
	}{
		{"nil", nil, nil, 0},
		{"exception", &goburrow.ModbusError{FunctionCode: 0x83, ExceptionCode: 2}, nil, 2},
		{"gateway exception", &goburrow.ModbusError{FunctionCode: 0x84, ExceptionCode: 11},
			nil, 11},
		{"own sentinel kept", fmt.Errorf("slave 3: %w", ErrTimeout), ErrTimeout, 0},
		{"goburrow string error", errors.New("modbus: response data is empty"), ErrBadFrame, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fromGoburrow(tt.in)
			var exc *ExceptionError
			switch {
			case tt.in == nil:
				if got != nil {
					t.Errorf("fromGoburrow(nil) = %v", got)
				}
			case tt.wantCode != 0:
				fn := Function(tt.in.(*goburrow.ModbusError).FunctionCode - 0x80)
				if !errors.As(got, &exc) || exc.Code != tt.wantCode || exc.Function != fn {
					t.Errorf("fromGoburrow(%v) = %v, want exception %d", tt.in, got, tt.wantCode)
				}
			case !errors.Is(got, tt.wantIs):
				t.Errorf("fromGoburrow(%v) = %v, want it to wrap %v", tt.in, got, tt.wantIs)
			}
		})
	}
}

func TestExceptionErrorMessage(t *testing.T) {
	err := &ExceptionError{Function: FuncHolding, Code: GatewayPathUnavailable}
	want := "exception 10 (gateway path unavailable) to function 3"
	if got := err.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
