package reading

// Ranges shared by the quantities of one dimension. They are generous on
// purpose: they catch decoding faults (a float read as an integer, a word
// order swapped), not unusual but real consumption; validation rules at
// the centre judge plausibility.
var (
	volts    = spec("V", Instantaneous, "0", "1e6")
	amps     = spec("A", Instantaneous, "-1e5", "1e5")
	watts    = spec("W", Instantaneous, "-1e8", "1e8")
	vars     = spec("var", Instantaneous, "-1e8", "1e8")
	voltAmps = spec("VA", Instantaneous, "0", "1e8")
	ratio    = spec("", Instantaneous, "-1", "1") // power factor, signed by direction
	degrees  = spec("°", Instantaneous, "-360", "360")
	// Current THD passes 100 % at light load; only a decoding fault
	// reaches a hundred times that.
	percentTHD = spec("%", Instantaneous, "0", "1e4")

	kWhIndex   = spec("kWh", Cumulative, "0", "1e10")
	kvarhIndex = spec("kvarh", Cumulative, "0", "1e10")
	cubicIndex = spec("m3", Cumulative, "0", "1e9")
	celsius    = spec("°C", Instantaneous, "-60", "200")
)

// Quantities is the controlled vocabulary, grouped by the kind of meter
// that reports them. Names are lower snake case and end in their unit:
// a phase is l1, l2 or l3 (to neutral) or l1_l2 (line to line), n the
// neutral; avg and sum combine the phases; total is import plus export,
// as the meters count it, never the net; demand is the mean over the
// meter's demand period and max its peak since the last reset.
var Quantities = map[Quantity]Spec{
	// Electricity: voltages and currents.
	"voltage_v":        volts,
	"voltage_l1_v":     volts,
	"voltage_l2_v":     volts,
	"voltage_l3_v":     volts,
	"voltage_ln_avg_v": volts,
	"voltage_l1_l2_v":  volts,
	"voltage_l2_l3_v":  volts,
	"voltage_l3_l1_v":  volts,
	"voltage_ll_avg_v": volts,
	"current_a":        amps,
	"current_l1_a":     amps,
	"current_l2_a":     amps,
	"current_l3_a":     amps,
	"current_n_a":      amps,
	"current_avg_a":    amps,
	"current_sum_a":    amps,
	"frequency_hz":     spec("Hz", Instantaneous, "0", "500"),

	// Electricity: active, apparent and reactive power.
	"power_w":               watts,
	"power_l1_w":            watts,
	"power_l2_w":            watts,
	"power_l3_w":            watts,
	"power_apparent_va":     voltAmps,
	"power_apparent_l1_va":  voltAmps,
	"power_apparent_l2_va":  voltAmps,
	"power_apparent_l3_va":  voltAmps,
	"power_reactive_var":    vars,
	"power_reactive_l1_var": vars,
	"power_reactive_l2_var": vars,
	"power_reactive_l3_var": vars,

	// Electricity: power factor and phase angle. A power factor has no
	// unit, so its name has no unit suffix.
	"power_factor":       ratio,
	"power_factor_l1":    ratio,
	"power_factor_l2":    ratio,
	"power_factor_l3":    ratio,
	"phase_angle_deg":    degrees,
	"phase_angle_l1_deg": degrees,
	"phase_angle_l2_deg": degrees,
	"phase_angle_l3_deg": degrees,

	// Electricity: total harmonic distortion, in percent of the
	// fundamental.
	"thd_voltage_l1_pct":     percentTHD,
	"thd_voltage_l2_pct":     percentTHD,
	"thd_voltage_l3_pct":     percentTHD,
	"thd_voltage_ln_avg_pct": percentTHD,
	"thd_voltage_l1_l2_pct":  percentTHD,
	"thd_voltage_l2_l3_pct":  percentTHD,
	"thd_voltage_l3_l1_pct":  percentTHD,
	"thd_voltage_ll_avg_pct": percentTHD,
	"thd_current_l1_pct":     percentTHD,
	"thd_current_l2_pct":     percentTHD,
	"thd_current_l3_pct":     percentTHD,
	"thd_current_avg_pct":    percentTHD,

	// Electricity: demand. Maxima reset on command, so none is an index.
	"demand_power_w":               watts,
	"demand_power_max_w":           watts,
	"demand_power_apparent_va":     voltAmps,
	"demand_power_apparent_max_va": voltAmps,
	"demand_current_l1_a":          amps,
	"demand_current_l2_a":          amps,
	"demand_current_l3_a":          amps,
	"demand_current_n_a":           amps,
	"demand_current_l1_max_a":      amps,
	"demand_current_l2_max_a":      amps,
	"demand_current_l3_max_a":      amps,
	"demand_current_n_max_a":       amps,

	// Electricity: active energy indexes.
	"energy_active_import_kwh":    kWhIndex,
	"energy_active_export_kwh":    kWhIndex,
	"energy_active_total_kwh":     kWhIndex,
	"energy_active_import_l1_kwh": kWhIndex,
	"energy_active_import_l2_kwh": kWhIndex,
	"energy_active_import_l3_kwh": kWhIndex,
	"energy_active_export_l1_kwh": kWhIndex,
	"energy_active_export_l2_kwh": kWhIndex,
	"energy_active_export_l3_kwh": kWhIndex,
	"energy_active_total_l1_kwh":  kWhIndex,
	"energy_active_total_l2_kwh":  kWhIndex,
	"energy_active_total_l3_kwh":  kWhIndex,

	// Electricity: reactive and apparent energy, charge.
	"energy_reactive_import_kvarh":    kvarhIndex,
	"energy_reactive_export_kvarh":    kvarhIndex,
	"energy_reactive_total_kvarh":     kvarhIndex,
	"energy_reactive_import_l1_kvarh": kvarhIndex,
	"energy_reactive_import_l2_kvarh": kvarhIndex,
	"energy_reactive_import_l3_kvarh": kvarhIndex,
	"energy_reactive_export_l1_kvarh": kvarhIndex,
	"energy_reactive_export_l2_kvarh": kvarhIndex,
	"energy_reactive_export_l3_kvarh": kvarhIndex,
	"energy_reactive_total_l1_kvarh":  kvarhIndex,
	"energy_reactive_total_l2_kvarh":  kvarhIndex,
	"energy_reactive_total_l3_kvarh":  kvarhIndex,
	"energy_apparent_kvah":            spec("kVAh", Cumulative, "0", "1e10"),
	"charge_ah":                       spec("Ah", Cumulative, "0", "1e10"),

	// Heat.
	"heat_gcal":       spec("Gcal", Cumulative, "0", "1e8"),
	"heat_energy_kwh": spec("kWh", Cumulative, "0", "1e11"),
	"heat_power_kw":   spec("kW", Instantaneous, "-1e6", "1e6"),
	"temp_supply_c":   celsius,
	"temp_return_c":   celsius,
	"temp_diff_k":     spec("K", Instantaneous, "-200", "200"),

	// Water, and the volumes heat meters count.
	"volume_m3":        cubicIndex,
	"volume_supply_m3": cubicIndex,
	"volume_return_m3": cubicIndex,
	"flow_m3h":         spec("m3/h", Instantaneous, "-1e5", "1e5"),
	"pressure_bar":     spec("bar", Instantaneous, "-1", "100"),

	// Any meter.
	"operating_hours_h": spec("h", Cumulative, "0", "1e7"),
}
