int ck_rl_dummy(void);
