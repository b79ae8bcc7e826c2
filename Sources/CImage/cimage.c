int ck_image_dummy(void){return 0;}
