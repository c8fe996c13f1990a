"""The unit's payment pages: 缴费凭证管理, 新增缴费信息 and a voucher's 查看 (views/vouchers.py)."""
