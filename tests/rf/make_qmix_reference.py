"""Generate tests/rf/data/qmix_hb_reference.csv once with QMix 1.0.6 (not a femsim dependency).

    python3 -m venv /tmp/qmixenv && /tmp/qmixenv/bin/pip install numpy scipy matplotlib numba setuptools wheel
    /tmp/qmixenv/bin/pip install --no-build-isolation qmix==1.0.6
    /tmp/qmixenv/bin/python tests/rf/make_qmix_reference.py

Everything normalised as in QMix: V_g = 1, R_n = 1, I_g = 1. The I-V is the smeared step
I_0 = V expit(2(|V| - 1)/w), w = 0.05 (ohmic well before QMix's forced-ohmic limit 1.8 V_g).
One tone, one harmonic, photon voltage 0.3 V_g, Thevenin EMF 0.5 V_g and impedances below.
Columns: zt_re, zt_im, vb, vj_re, vj_im (junction phasor, QMix), idc (pumped dc current)."""

import numpy as np
from scipy.special import expit

import qmix
from qmix.harmonic_balance import harmonic_balance
from qmix.qtcurrent import qtcurrent

W = 0.05
v = np.linspace(0, 10, 20001)
resp = qmix.respfn.RespFnFromIVData(v, v * expit(2 * (v - 1) / W), verbose=False, v_smear=None)
rows = []
for zt in (0.5 + 0j, 0.4 + 0.3j, 0.4 - 0.3j):
    cct = qmix.circuit.EmbeddingCircuit(1, 1, vb_min=0.2, vb_max=1.6, vb_npts=15)
    cct.freq[1] = 0.3
    cct.vt[1, 1] = 0.5
    cct.zt[1, 1] = zt
    vj = harmonic_balance(cct, resp, num_b=30, max_it=50, stop_rerror=1e-9, verbose=False)
    idc = qtcurrent(vj, cct, resp, 0.0, num_b=30, verbose=False)
    for k, vb in enumerate(cct.vb):
        rows.append((zt.real, zt.imag, vb, vj[1, 1, k].real, vj[1, 1, k].imag, idc[k]))
np.savetxt("tests/rf/data/qmix_hb_reference.csv", np.array(rows), delimiter=",", fmt="%.12g",
           header="zt_re,zt_im,vb,vj_re,vj_im,idc", comments="")
print(len(rows), "rows")
