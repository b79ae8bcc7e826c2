int ck_rl_dummy(void){return 0;}
