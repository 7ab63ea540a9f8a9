"""Development (开发): which forests qualify, what a project costs and earns, what could go wrong,
and the project library (项目库).

- :mod:`tanhui.develop.screening` — eligibility rules per scheme (data, versioned), vectorized.
- :mod:`tanhui.develop.finance`, :mod:`tanhui.develop.feasibility` — cash flows, NPV, IRR, payback.
- :mod:`tanhui.develop.risk` — seeded Monte Carlo of fire, pests, growth and price.
- :mod:`tanhui.develop.library`, :mod:`tanhui.develop.pooling` — the project library, rights
  holders, authorizations (授权) and revenue shares (股份合作).
"""
